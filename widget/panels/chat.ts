// The chat panel: messages with author, role badge and time; a box to write; for hosts, delete a
// message, mute one participant, or mute the whole room.
import { html, nothing, type TemplateResult } from 'lit';
import type { ChatMutesView, ChatView } from '../../server/protocol/index.ts';
import { LIMITS } from '../../server/protocol/limits.ts';
import { timeOf, type Panel } from './panel.ts';

export interface ChatPanel extends Panel {
  messages: ChatView[];
  mutes: ChatMutesView;
}

async function submit(event: SubmitEvent, panel: ChatPanel): Promise<void> {
  event.preventDefault();
  const form = event.currentTarget as HTMLFormElement;
  const field = form.elements.namedItem('body') as HTMLTextAreaElement;
  const body = field.value.trim();
  if (!body) return;
  const ack = await panel.send('chat:send', { body });
  if (ack.ok) {
    field.value = '';
    field.focus();
  }
}

/** Enter sends, Shift+Enter starts a new line. */
function onKey(event: KeyboardEvent): void {
  if (event.key !== 'Enter' || event.shiftKey || event.isComposing) return;
  event.preventDefault();
  (event.currentTarget as HTMLTextAreaElement).form?.requestSubmit();
}

export function renderChat(panel: ChatPanel): TemplateResult {
  const { t, messages, mutes } = panel;
  const host = panel.grant === 'host';
  const mutedMe = !host && mutes.users.includes(panel.userId);
  const blocked = !host && (mutes.room || mutedMe);
  const badge = (role: ChatView['role']) =>
    role === 'host' ? html`<span class="tag host">${t('roleHost')}</span>` : role === 'speaker' ? html`<span class="tag speaker">${t('roleSpeaker')}</span>` : nothing;
  return html`
    ${host
      ? html`<div class="actions" style="padding: .5rem .75rem 0">
          <button class="quiet small" aria-pressed=${String(mutes.room)} ?disabled=${panel.busy} @click=${() => panel.send('chat:mute', { muted: !mutes.room })}>${t('chatMuteRoom')}</button>
        </div>`
      : nothing}
    <ol class="scroll" role="log" aria-live="polite" aria-label=${t('chatLog')} data-chat-log>
      ${messages.length === 0 ? html`<li class="empty">${t('chatEmpty')}</li>` : nothing}
      ${messages.map((m) => {
        const mutedUser = mutes.users.includes(m.userId);
        const name = m.name || t('participant');
        return html`<li data-message-id=${m.id} style="margin-bottom: .45rem">
          <div class="meta">
            <strong>${m.userId === panel.userId ? t('you') : name}</strong>${badge(m.role)}
            <time datetime=${m.at}>${timeOf(m.at, t)}</time>
            ${host && mutedUser ? html`<span class="tag">${t('chatMutedBadge')}</span>` : nothing}
          </div>
          <p class="body">${m.body}</p>
          ${host
            ? html`<div class="actions">
                <button class="danger small" aria-label=${t('chatDeleteLabel', { name })} @click=${() => panel.send('chat:delete', { messageId: m.id })}>${t('chatDelete')}</button>
                ${m.role !== 'host' && m.userId !== panel.userId
                  ? html`<button class="quiet small" aria-pressed=${String(mutedUser)} aria-label=${t(mutedUser ? 'chatUnmuteLabel' : 'chatMuteLabel', { name })} @click=${() => panel.send('chat:mute', { userId: m.userId, muted: !mutedUser })}>${t(mutedUser ? 'chatUnmute' : 'chatMute')}</button>`
                  : nothing}
              </div>`
            : nothing}
        </li>`;
      })}
    </ol>
    <form class="compose" @submit=${(e: SubmitEvent) => submit(e, panel)}>
      ${blocked ? html`<p class="muted-note" role="status">${mutedMe ? t('chatMutedYou') : t('chatMutedRoom')}</p>` : nothing}
      <div class="row">
        <label class="visually-hidden" for="chat-body">${t('chatLabel')}</label>
        <textarea id="chat-body" name="body" rows="2" maxlength=${LIMITS.chat} placeholder=${t('chatPlaceholder')} ?disabled=${blocked} @keydown=${onKey}></textarea>
        <button type="submit" ?disabled=${blocked}>${t('chatSend')}</button>
      </div>
    </form>
  `;
}

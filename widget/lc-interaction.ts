// <lc-interaction>: the class's side panel: chat, questions (Q&A), raised hands and polls. It shares
// the connection of <live-classroom>, asks for everything once per welcome (`interaction:sync`, with
// the last message id it holds after a reconnection, so nothing is missed) and then follows the
// server's events. Every control is a real button, input or radio with a label; text is bound as
// text (Lit escapes it), never as HTML.
import { css, html, nothing, type PropertyValues } from 'lit';
import type { ChatMutesView, ChatView, HandsView, PollView, QuestionView } from '../server/protocol/index.ts';
import type { ServerHandlers } from './class-connection.ts';
import { renderChat } from './panels/chat.ts';
import { renderHands } from './panels/hands.ts';
import type { Send } from './panels/panel.ts';
import { renderPolls } from './panels/polls.ts';
import { renderQuestions, sortQuestions } from './panels/questions.ts';
import { panelStyles } from './panels/styles.ts';
import { RoomPanel } from './room-panel.ts';

type Tab = 'chat' | 'questions' | 'hands' | 'polls';
const TABS: readonly Tab[] = ['chat', 'questions', 'hands', 'polls'];
/** Messages kept in the page; older ones are dropped from view (they stay in the room's history). */
const KEEP_MESSAGES = 500;

export class LcInteraction extends RoomPanel {
  static override properties = {
    ...RoomPanel.properties,
    _tab: { state: true },
    _messages: { state: true },
    _questions: { state: true },
    _hands: { state: true },
    _polls: { state: true },
    _mutes: { state: true },
    _unread: { state: true },
  };

  static override styles = [panelStyles, css`
    :host { display: flex; flex-direction: column; min-height: 24rem; max-height: 80vh; border: 1px solid #d1d9e0; border-radius: 8px; background: #fff; overflow: hidden; }
    [role="tablist"] { display: flex; border-bottom: 1px solid #d1d9e0; background: #f6f8fa; }
    [role="tab"] { flex: 1; font: inherit; font-size: .9rem; padding: .55rem .25rem; border: 0; border-bottom: 3px solid transparent; background: none; color: #59636e; cursor: pointer; border-radius: 0; }
    [role="tab"][aria-selected="true"] { color: #1f2328; border-bottom-color: #0969da; font-weight: 600; }
    [role="tab"]:focus-visible { outline: 3px solid #0969da; outline-offset: -3px; }
    .count { display: inline-block; min-width: 1.25rem; margin-left: .25rem; padding: 0 .35rem; border-radius: 999px; background: #0969da; color: #fff; font-size: .75rem; font-weight: 600; }
    [role="tabpanel"] { flex: 1; display: flex; flex-direction: column; min-height: 0; }
    .panel-notice { margin: .5rem .75rem 0; border-left: 4px solid #cf222e; padding: .25rem .5rem; background: #ffebe9; font-size: .875rem; }
  `];

  declare _tab: Tab;
  declare _messages: ChatView[];
  declare _questions: QuestionView[];
  declare _hands: HandsView;
  declare _polls: PollView[];
  declare _mutes: ChatMutesView;
  declare _unread: number;

  #userId = '';
  #stick = true;
  readonly #mine = new Set<number>();
  readonly #voted = new Set<number>();
  readonly #choices = new Map<number, number>();

  constructor() {
    super();
    this._tab = 'chat';
    this._messages = [];
    this._questions = [];
    this._hands = { queue: [], stage: [] };
    this._polls = [];
    this._mutes = { room: false, users: [] };
    this._unread = 0;
  }

  override willUpdate(changed: PropertyValues<this>): void {
    // Keep the chat at its newest message, unless the reader scrolled up to read older ones.
    const log = this.renderRoot?.querySelector<HTMLElement>('[data-chat-log]');
    this.#stick = !log || log.scrollHeight - log.scrollTop - log.clientHeight < 80;
    super.willUpdate(changed);
  }

  override updated(): void {
    const log = this.renderRoot.querySelector<HTMLElement>('[data-chat-log]');
    if (log && this.#stick) log.scrollTop = log.scrollHeight;
  }

  protected override events(): ServerHandlers {
    return {
      'chat:message': (message) => {
        this.#addMessages([message]);
        if (this._tab !== 'chat' && message.userId !== this.#userId) this._unread += 1;
      },
      'chat:deleted': ({ id }) => {
        this._messages = this._messages.filter((m) => m.id !== id);
      },
      'chat:muted': ({ userId, muted }) => {
        if (userId === undefined) this._mutes = { ...this._mutes, room: muted };
        else this._mutes = { ...this._mutes, users: muted ? [...new Set([...this._mutes.users, userId])] : this._mutes.users.filter((u) => u !== userId) };
      },
      'question:updated': (question) => this.#putQuestion(question),
      'hands:changed': (hands) => {
        this._hands = hands;
      },
      'poll:updated': (poll) => this.#putPoll(poll),
    };
  }

  protected override async sync(): Promise<void> {
    // After a reconnection: only what was sent since our last message, and which of ours were deleted.
    for (let round = 0; round < 20; round++) {
      const last = this._messages.at(-1)?.id;
      const first = this._messages[0]?.id;
      const payload = last === undefined ? {} : { chatAfter: last, ...(first === undefined ? {} : { chatFrom: first }) };
      const ack = await this.send('interaction:sync', payload);
      if (!ack.ok) return;
      this.#userId = ack.userId;
      const deleted = new Set(ack.chatDeleted);
      if (deleted.size > 0) this._messages = this._messages.filter((m) => !deleted.has(m.id));
      this.#addMessages(ack.chat);
      for (const q of ack.questions) {
        if (q.mine) this.#mine.add(q.id);
        if (q.voted) this.#voted.add(q.id);
      }
      this._questions = sortQuestions(ack.questions);
      this._hands = ack.hands;
      for (const p of ack.polls) if (p.choice !== undefined) this.#choices.set(p.id, p.choice);
      this._polls = ack.polls;
      this._mutes = ack.mutes;
      if (!ack.more) return;
    }
  }

  #addMessages(messages: ChatView[]): void {
    if (messages.length === 0) return;
    const byId = new Map(this._messages.map((m) => [m.id, m]));
    for (const m of messages) byId.set(m.id, m);
    this._messages = [...byId.values()].sort((a, b) => a.id - b.id).slice(-KEEP_MESSAGES);
  }

  #putQuestion(question: QuestionView): void {
    const others = this._questions.filter((q) => q.id !== question.id);
    this._questions = sortQuestions([...others, question]);
  }

  #putPoll(poll: PollView): void {
    const found = this._polls.some((p) => p.id === poll.id);
    this._polls = found ? this._polls.map((p) => (p.id === poll.id ? poll : p)) : [poll, ...this._polls];
  }

  /** What the panels send with: the element's `send()`, a refusal shown above them. */
  readonly #send: Send = (event, payload) => this.send(event, payload);

  #select(tab: Tab, focus = false): void {
    this._tab = tab;
    if (tab === 'chat') this._unread = 0;
    if (focus) void this.updateComplete.then(() => this.renderRoot.querySelector<HTMLElement>(`#tab-${tab}`)?.focus());
  }

  /** Arrow keys, Home and End move between tabs (the WAI-ARIA tabs pattern). */
  #onTabKey(event: KeyboardEvent): void {
    const index = TABS.indexOf(this._tab);
    const next = event.key === 'ArrowRight' ? index + 1 : event.key === 'ArrowLeft' ? index - 1 : event.key === 'Home' ? 0 : event.key === 'End' ? TABS.length - 1 : undefined;
    if (next === undefined) return;
    event.preventDefault();
    this.#select(TABS[(next + TABS.length) % TABS.length] as Tab, true);
  }

  override render() {
    const t = this.t;
    const host = this.grant === 'host';
    const labels: Record<Tab, string> = { chat: t('tabChat'), questions: t('tabQuestions'), hands: t('tabHands'), polls: t('tabPolls') };
    const counts: Record<Tab, number> = {
      chat: this._unread,
      questions: host ? this._questions.filter((q) => q.state === 'open').length : 0,
      hands: host ? this._hands.queue.length : 0,
      polls: host ? 0 : this._polls.filter((p) => p.state === 'open' && !this.#choices.has(p.id)).length,
    };
    const me = { userId: this.#userId, grant: this.grant, t, send: this.#send, busy: this._busy };
    return html`
      <div role="tablist" aria-label=${t('interaction')} @keydown=${(e: KeyboardEvent) => this.#onTabKey(e)}>
        ${TABS.map(
          (tab) => html`<button role="tab" id="tab-${tab}" aria-controls="panel-${tab}" aria-selected=${String(this._tab === tab)} tabindex=${this._tab === tab ? 0 : -1} @click=${() => this.#select(tab)}>
            ${labels[tab]}${counts[tab] > 0 ? html`<span class="count" aria-label=${t('newCount', { count: counts[tab] })}>${counts[tab]}</span>` : nothing}
          </button>`,
        )}
      </div>
      ${this._notice ? html`<p class="panel-notice" role="alert">${this._notice}</p>` : nothing}
      <div role="tabpanel" id="panel-${this._tab}" aria-labelledby="tab-${this._tab}" data-panel=${this._tab}>
        ${this._tab === 'chat'
          ? renderChat({ ...me, messages: this._messages, mutes: this._mutes })
          : this._tab === 'questions'
            ? renderQuestions({ ...me, questions: this._questions, mine: this.#mine, voted: this.#voted, onAsked: (id) => this.#mine.add(id), onVoted: (id) => this.#voted.add(id) })
            : this._tab === 'hands'
              ? renderHands({ ...me, hands: this._hands })
              : renderPolls({ ...me, polls: this._polls, choices: this.#choices, onVoted: (id, option) => this.#choices.set(id, option), update: () => this.requestUpdate() })}
      </div>
    `;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'lc-interaction': LcInteraction;
  }
}

if (!customElements.get('lc-interaction')) customElements.define('lc-interaction', LcInteraction);

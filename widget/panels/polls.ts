// Polls: a host asks a question with 2 to 6 options and sees the results live, closes the poll and
// may share the results; students choose one option, once, and see the results once shared.
import { html, nothing, type TemplateResult } from 'lit';
import type { PollView } from '../../server/protocol/index.ts';
import { LIMITS } from '../../server/protocol/limits.ts';
import type { Translate } from '../i18n.ts';
import type { Panel } from './panel.ts';

export interface PollsPanel extends Panel {
  polls: PollView[];
  choices: ReadonlyMap<number, number>;
  onVoted(pollId: number, option: number): void;
  update(): void;
}

async function create(event: SubmitEvent, panel: PollsPanel): Promise<void> {
  event.preventDefault();
  const form = event.currentTarget as HTMLFormElement;
  const data = new FormData(form);
  const question = String(data.get('question') ?? '').trim();
  const options = data.getAll('option').map((o) => String(o).trim()).filter((o) => o !== '');
  const ack = await panel.send('poll:create', { question, options });
  if (ack.ok) form.reset();
}

async function vote(event: SubmitEvent, panel: PollsPanel, poll: PollView): Promise<void> {
  event.preventDefault();
  const chosen = new FormData(event.currentTarget as HTMLFormElement).get('option');
  if (chosen === null) return;
  const option = Number(chosen);
  const ack = await panel.send('poll:vote', { pollId: poll.id, option });
  if (ack.ok) {
    panel.onVoted(poll.id, option);
    panel.update();
  }
}

function results(poll: PollView, t: Translate, choice: number | undefined): TemplateResult {
  const counts = poll.counts ?? [];
  const total = counts.reduce((a, b) => a + b, 0);
  return html`<div data-results>
    ${poll.options.map((option, i) => {
      const n = counts[i] ?? 0;
      const share = total === 0 ? 0 : Math.round((n / total) * 100);
      return html`<div class="result" data-option=${i} data-count=${n}>
        <span>${option}${choice === i ? html` <span class="tag open">${t('pollYourChoice')}</span>` : nothing}</span>
        <span>${n} · ${share}%</span>
        <div class="bar" role="img" aria-label=${t('pollOptionResult', { option, count: n, percent: share })}><span style="width: ${share}%"></span></div>
      </div>`;
    })}
    <p class="hint" data-total=${total}>${total === 1 ? t('pollTotalOne') : t('pollTotal', { count: total })}</p>
  </div>`;
}

export function renderPolls(panel: PollsPanel): TemplateResult {
  const { t, polls } = panel;
  const host = panel.grant === 'host';
  const creator = host
    ? html`<form class="card" @submit=${(e: SubmitEvent) => create(e, panel)} data-poll-form>
        <h3>${t('pollNew')}</h3>
        <label class="field">${t('pollQuestion')}<input type="text" name="question" required maxlength=${LIMITS.pollQuestion} /></label>
        ${Array.from({ length: LIMITS.pollOptionsMax }, (_, i) => {
          const required = i < LIMITS.pollOptionsMin;
          return html`<label class="field">${required ? t('pollOption', { number: i + 1 }) : t('pollOptionOptional', { number: i + 1 })}<input type="text" name="option" maxlength=${LIMITS.pollOption} ?required=${required} /></label>`;
        })}
        <div class="actions"><button type="submit" ?disabled=${panel.busy}>${t('pollStart')}</button></div>
      </form>`
    : nothing;
  return html`
    <div class="scroll" data-polls>
      ${polls.length === 0 && !host ? html`<p class="empty">${t('pollsEmpty')}</p>` : nothing}
      ${polls.map((poll) => {
        const choice = panel.choices.get(poll.id) ?? poll.choice;
        const state = poll.state === 'open' ? html`<span class="tag open">${t('pollOpen')}</span>` : html`<span class="tag closed">${t('pollClosed')}</span>`;
        let body: TemplateResult;
        if (host) {
          body = html`${results(poll, t, undefined)}
            <div class="actions">
              ${poll.state === 'open' ? html`<button class="quiet small" @click=${() => panel.send('poll:close', { pollId: poll.id })}>${t('pollClose')}</button>` : nothing}
              <button class="quiet small" aria-pressed=${String(poll.shared)} @click=${() => panel.send('poll:share', { pollId: poll.id, shared: !poll.shared })}>${poll.shared ? t('pollHide') : t('pollShare')}</button>
            </div>`;
        } else if (poll.state === 'open' && choice === undefined) {
          body = html`<form @submit=${(e: SubmitEvent) => vote(e, panel, poll)}>
            <fieldset>
              <legend class="visually-hidden">${poll.question}</legend>
              ${poll.options.map((option, i) => html`<label class="choice"><input type="radio" name="option" value=${i} required /> ${option}</label>`)}
            </fieldset>
            <div class="actions"><button type="submit" ?disabled=${panel.busy}>${t('pollVote')}</button></div>
          </form>`;
        } else if (poll.counts) {
          body = results(poll, t, choice);
        } else {
          body = html`${choice === undefined ? nothing : html`<p class="body">${t('pollVoted', { option: poll.options[choice] ?? '' })}</p>`}<p class="hint">${t('pollWaiting')}</p>`;
        }
        return html`<section class="card" data-poll-id=${poll.id} data-state=${poll.state} aria-label=${poll.question}>
          <div class="meta">${state}${poll.shared && host ? html`<span class="tag">${t('pollShared')}</span>` : nothing}</div>
          <p class="body" style="font-weight: 600">${poll.question}</p>
          ${body}
        </section>`;
      })}
      ${creator}
    </div>
  `;
}

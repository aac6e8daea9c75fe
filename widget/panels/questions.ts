// Q&A: students ask (optionally anonymous to other students; hosts always see who asked), everyone
// else upvotes once; hosts mark questions answered and pin them. Pinned first, then open before
// answered, then by votes, then oldest first (the server's order too).
import { html, nothing, type TemplateResult } from 'lit';
import type { QuestionView } from '../../server/protocol/index.ts';
import { LIMITS } from '../../server/protocol/limits.ts';
import { timeOf, type Panel } from './panel.ts';

export interface QuestionsPanel extends Panel {
  questions: QuestionView[];
  mine: ReadonlySet<number>;
  voted: ReadonlySet<number>;
  onAsked(id: number): void;
  onVoted(id: number): void;
}

export function sortQuestions(questions: QuestionView[]): QuestionView[] {
  const rank = (q: QuestionView) => (q.state === 'open' ? 0 : 1);
  return [...questions].sort((a, b) => Number(b.pinned) - Number(a.pinned) || rank(a) - rank(b) || b.votes - a.votes || a.id - b.id);
}

async function ask(event: SubmitEvent, panel: QuestionsPanel): Promise<void> {
  event.preventDefault();
  const form = event.currentTarget as HTMLFormElement;
  const field = form.elements.namedItem('body') as HTMLTextAreaElement;
  const anonymous = (form.elements.namedItem('anonymous') as HTMLInputElement | null)?.checked === true;
  const body = field.value.trim();
  if (!body) return;
  const ack = await panel.send('question:ask', { body, anonymous });
  if (ack.ok) {
    panel.onAsked(ack.question.id);
    form.reset();
  }
}

async function vote(panel: QuestionsPanel, id: number): Promise<void> {
  const ack = await panel.send('question:vote', { questionId: id });
  if (ack.ok) panel.onVoted(id);
}

export function renderQuestions(panel: QuestionsPanel): TemplateResult {
  const { t, questions } = panel;
  const host = panel.grant === 'host';
  const author = (q: QuestionView) => {
    if (panel.mine.has(q.id)) return q.anonymous ? t('questionYoursAnonymous') : t('questionYours');
    if (!q.author) return t('questionAnonymousAuthor');
    const name = q.author.name || t('participant');
    return host && q.anonymous ? t('questionAnonymousToStudents', { name }) : name;
  };
  return html`
    <ul class="scroll" aria-label=${t('tabQuestions')} data-questions>
      ${questions.length === 0 ? html`<li class="empty">${t('questionsEmpty')}</li>` : nothing}
      ${questions.map((q) => {
        const mine = panel.mine.has(q.id);
        const voted = panel.voted.has(q.id);
        return html`<li class="card ${q.pinned ? 'pinned' : ''} ${q.state}" data-question-id=${q.id} data-state=${q.state}>
          <div class="meta">
            <strong>${author(q)}</strong>
            <time datetime=${q.at}>${timeOf(q.at, t)}</time>
            ${q.pinned ? html`<span class="tag pinned">${t('questionPinned')}</span>` : nothing}
            ${q.state === 'answered' ? html`<span class="tag answered">${t('questionAnswered')}</span>` : nothing}
          </div>
          <p class="body">${q.body}</p>
          <div class="actions">
            <button
              class="quiet small"
              aria-pressed=${String(voted)}
              aria-label=${t('questionVoteLabel', { count: q.votes })}
              ?disabled=${mine || voted || host}
              @click=${() => vote(panel, q.id)}
            >▲ <span data-votes>${q.votes}</span></button>
            ${host
              ? html`<button class="quiet small" @click=${() => panel.send('question:answer', { questionId: q.id, answered: q.state !== 'answered' })}>${q.state === 'answered' ? t('questionReopen') : t('questionMarkAnswered')}</button>
                  <button class="quiet small" aria-pressed=${String(q.pinned)} @click=${() => panel.send('question:pin', { questionId: q.id, pinned: !q.pinned })}>${q.pinned ? t('questionUnpin') : t('questionPin')}</button>`
              : nothing}
          </div>
        </li>`;
      })}
    </ul>
    <form class="compose" @submit=${(e: SubmitEvent) => ask(e, panel)}>
      <label class="visually-hidden" for="question-body">${t('questionLabel')}</label>
      <textarea id="question-body" name="body" rows="2" maxlength=${LIMITS.question} placeholder=${t('questionLabel')}></textarea>
      <div class="row" style="justify-content: space-between; align-items: center">
        ${host ? html`<span></span>` : html`<label class="check"><input type="checkbox" name="anonymous" /> ${t('questionAnonymous')}</label>`}
        <button type="submit">${t('questionAsk')}</button>
      </div>
    </form>
  `;
}

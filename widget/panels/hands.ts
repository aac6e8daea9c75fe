// Raised hands: students raise or lower theirs and see their place in line; hosts see the queue
// in order, bring the first (or anyone in it) on stage, lower a hand, and take speakers off stage.
import { html, nothing, type TemplateResult } from 'lit';
import type { HandsView } from '../../server/protocol/index.ts';
import type { Panel } from './panel.ts';

export interface HandsPanel extends Panel {
  hands: HandsView;
}

export function renderHands(panel: HandsPanel): TemplateResult {
  const { t, hands } = panel;
  const host = panel.grant === 'host';
  const position = hands.queue.findIndex((h) => h.userId === panel.userId) + 1;
  const self = host
    ? nothing
    : panel.grant === 'speaker'
      ? html`<p class="hint" role="status">${t('handOnStage')}</p>`
      : html`<div class="actions" style="margin-bottom: .5rem">
          ${position > 0
            ? html`<button aria-pressed="true" ?disabled=${panel.busy} @click=${() => panel.send('hand:lower', {})}>✋ ${t('handLower')}</button>`
            : html`<button ?disabled=${panel.busy} @click=${() => panel.send('hand:raise', {})}>✋ ${t('handRaise')}</button>`}
        </div>
        <p class="hint" role="status">${position > 0 ? t('handRaised', { position }) : t('handsHint')}</p>`;
  return html`
    <div class="scroll" data-hands>
      ${self}
      <h3 id="hands-queue">${t('handsQueue')}</h3>
      ${host && hands.queue.length > 0
        ? html`<div class="actions" style="margin-bottom: .5rem"><button ?disabled=${panel.busy} @click=${() => panel.send('hand:bring', {})}>${t('handBringFirst')}</button></div>`
        : nothing}
      ${hands.queue.length === 0
        ? html`<p class="empty" style="padding: 0">${t('handsEmpty')}</p>`
        : html`<ol aria-labelledby="hands-queue" style="padding-left: 1.25rem; margin: 0">
            ${hands.queue.map(
              (h) => html`<li data-hand=${h.userId} style="margin-bottom: .4rem">
                <strong>${h.userId === panel.userId ? t('you') : h.name || t('participant')}</strong>
                ${host
                  ? html`<span class="actions" style="display: inline-flex; margin: 0 0 0 .5rem">
                      <button class="small" ?disabled=${panel.busy} aria-label=${t('handBringLabel', { name: h.name })} @click=${() => panel.send('hand:bring', { userId: h.userId })}>${t('handBring')}</button>
                      <button class="quiet small" aria-label=${t('handLowerLabel', { name: h.name })} @click=${() => panel.send('hand:lower', { userId: h.userId })}>${t('handLowerFor')}</button>
                    </span>`
                  : nothing}
              </li>`,
            )}
          </ol>`}
      <h3 id="hands-stage">${t('handsStage')}</h3>
      ${hands.stage.length === 0
        ? html`<p class="empty" style="padding: 0">${t('stageNobody')}</p>`
        : html`<ul aria-labelledby="hands-stage" style="padding-left: 1.25rem; margin: 0">
            ${hands.stage.map(
              (s) => html`<li data-speaker=${s.userId} style="margin-bottom: .4rem">
                <strong>${s.userId === panel.userId ? t('you') : s.name || t('participant')}</strong>
                ${host || s.userId === panel.userId
                  ? html`<button class="danger small" style="margin-left: .5rem" aria-label=${t('stageRemoveLabel', { name: s.name })} @click=${() => panel.send('stage:remove', { userId: s.userId })}>${t('stageRemove')}</button>`
                  : nothing}
              </li>`,
            )}
          </ul>`}
    </div>
  `;
}

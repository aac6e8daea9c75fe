// The stage: what is shown large (a screen share while one is on, otherwise the instructor's
// camera), the presenter's camera small beside a screen share, other speakers as tiles, our own
// camera as a muted preview, and one audio element per person heard.
import { css, html, nothing, type TemplateResult } from 'lit';
import type { MediaState } from '../server/protocol.ts';
import type { Translate } from './i18n.ts';
import type { Publisher } from './media.ts';

export interface StageView {
  publishers: Publisher[];
  states: ReadonlyMap<string, MediaState>;
  speaking: ReadonlySet<string>;
  /** Our own camera (hosts and speakers), shown muted and mirrored. */
  self?: { stream: MediaStream; cameraOn: boolean; microphoneOn: boolean; speaking: boolean; userId: string };
  /** Text when nothing is on stage. */
  empty: string;
  t: Translate;
}

export const stageStyles = css`
  .stage { position: relative; aspect-ratio: 16 / 9; background: #0d1117; color: #d1d9e0; border-radius: 8px; overflow: hidden; display: grid; place-items: center; text-align: center; }
  .stage > p { padding: 1rem; }
  .main { width: 100%; height: 100%; object-fit: contain; background: #000; }
  .tiles { position: absolute; right: .5rem; bottom: .5rem; display: flex; gap: .5rem; flex-wrap: wrap-reverse; justify-content: flex-end; max-width: 60%; }
  figure { margin: 0; position: relative; width: 11rem; aspect-ratio: 16 / 9; background: #161b22; border-radius: 6px; overflow: hidden; border: 2px solid transparent; }
  figure.big { position: absolute; inset: 0; width: auto; border-radius: 0; border: 0; }
  figure[data-speaking] { border-color: #2da44e; }
  figure video { width: 100%; height: 100%; object-fit: cover; display: block; }
  figure.big video { object-fit: contain; }
  figure video.mirror { transform: scaleX(-1); }
  figcaption { position: absolute; left: .25rem; bottom: .25rem; display: flex; gap: .25rem; flex-wrap: wrap; font-size: .75rem; }
  figcaption span { background: rgb(0 0 0 / .65); color: #fff; padding: 0 .4rem; border-radius: 4px; }
  figcaption .speaking { background: #1f883d; }
  figcaption .off { background: #cf222e; }
`;

/** Whose screen or camera goes large: the first screen share, otherwise the first camera. */
function mainOf(publishers: Publisher[]): { publisher: Publisher; source: 'screen' | 'camera' } | undefined {
  const sharing = publishers.find((p) => p.screen);
  if (sharing) return { publisher: sharing, source: 'screen' };
  const onCamera = publishers.find((p) => p.camera);
  return onCamera ? { publisher: onCamera, source: 'camera' } : undefined;
}

function badges(view: StageView, userId: string, speaking: boolean, state: Pick<MediaState, 'camera' | 'microphone'> | undefined): TemplateResult {
  const { t } = view;
  return html`${speaking ? html`<span class="speaking">${t('speaking')}</span>` : nothing}
    ${state && !state.microphone ? html`<span class="off" data-muted=${userId}>${t('microphoneOff')}</span>` : nothing}
    ${state && !state.camera ? html`<span class="off">${t('cameraOff')}</span>` : nothing}`;
}

function tile(view: StageView, p: Publisher, source: 'screen' | 'camera', big: boolean): TemplateResult {
  const { t } = view;
  const stream = source === 'screen' ? p.screen : p.camera;
  const speaking = source === 'camera' && view.speaking.has(p.userId);
  const label = source === 'screen' ? t('screenOf', { name: p.name }) : t('cameraOf', { name: p.name });
  return html`<figure class=${big ? 'big' : ''} data-user=${p.userId} data-source=${source} ?data-speaking=${speaking}>
    <video .srcObject=${stream ?? null} autoplay playsinline .muted=${true} aria-label=${label}></video>
    <figcaption><span>${source === 'screen' ? label : p.name}</span>${source === 'camera' ? badges(view, p.userId, speaking, view.states.get(p.userId)) : nothing}</figcaption>
  </figure>`;
}

export function renderStage(view: StageView): TemplateResult {
  const { t, self } = view;
  const main = mainOf(view.publishers);
  const small: TemplateResult[] = [];
  for (const p of view.publishers) {
    if (main && p === main.publisher && main.source === 'camera') continue;
    if (p.camera) small.push(tile(view, p, 'camera', false));
  }
  if (self) {
    small.push(html`<figure data-user=${self.userId} data-source="self" ?data-speaking=${self.speaking}>
      <video class="mirror" .srcObject=${self.stream} autoplay playsinline .muted=${true} aria-label=${t('you')}></video>
      <figcaption><span>${t('you')}</span>${badges(view, self.userId, self.speaking, { camera: self.cameraOn, microphone: self.microphoneOn })}</figcaption>
    </figure>`);
  }
  return html`<section class="stage" aria-label=${t('stage')} data-stage=${main?.source ?? 'empty'}>
    ${main ? tile(view, main.publisher, main.source, true) : html`<p aria-live="polite">${view.empty}</p>`}
    ${small.length > 0 ? html`<div class="tiles">${small}</div>` : nothing}
    ${view.publishers.filter((p) => p.audio).map((p) => html`<audio .srcObject=${p.audio ?? null} autoplay data-user=${p.userId}></audio>`)}
  </section>`;
}

// The stage: what is shown large (a screen share while one is on, otherwise the instructor's
// camera), the presenter's camera small beside a screen share, other speakers as tiles, our own
// camera as a muted preview, and one audio element per person heard.
import { css, html, nothing, type TemplateResult } from 'lit';
import type { MediaState } from '../server/protocol/index.ts';
import type { Translate } from './i18n.ts';
import type { Publisher } from './media.ts';

export interface StageView {
  publishers: Publisher[];
  states: ReadonlyMap<string, MediaState>;
  speaking: ReadonlySet<string>;
  /** What we send ourselves (hosts and speakers): our camera is shown mirrored, nothing of ours is played aloud. */
  self?: { camera?: MediaStream; screen?: MediaStream; cameraOn: boolean; microphoneOn: boolean; speaking: boolean };
  /** Text when nothing is on stage. */
  empty: string;
  t: Translate;
}

export const stageStyles = css`
  .stage { position: relative; aspect-ratio: 16 / 9; max-height: 70vh; background: #0d1117; color: #d1d9e0; border-radius: 8px; overflow: hidden; display: grid; place-items: center; text-align: center; }
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

/** Someone on stage as drawn: a remote publisher, or ourselves. */
interface Shown {
  publisher: Publisher;
  self: boolean;
}

/** What goes large: someone else's screen, then our own, then someone else's camera, then ours. */
function mainOf(shown: Shown[]): { who: Shown; source: 'screen' | 'camera' } | undefined {
  const order: Array<[boolean, 'screen' | 'camera']> = [[false, 'screen'], [true, 'screen'], [false, 'camera'], [true, 'camera']];
  for (const [self, source] of order) {
    const who = shown.find((s) => s.self === self && s.publisher[source]);
    if (who) return { who, source };
  }
  return undefined;
}

function badges(view: StageView, userId: string, speaking: boolean, state: Pick<MediaState, 'camera' | 'microphone'> | undefined): TemplateResult {
  const { t } = view;
  return html`${speaking ? html`<span class="speaking">${t('speaking')}</span>` : nothing}
    ${state && !state.microphone ? html`<span class="off" data-muted=${userId}>${t('microphoneOff')}</span>` : nothing}
    ${state && !state.camera ? html`<span class="off">${t('cameraOff')}</span>` : nothing}`;
}

function tile(view: StageView, { publisher: p, self }: Shown, source: 'screen' | 'camera', big: boolean): TemplateResult {
  const { t } = view;
  const stream = source === 'screen' ? p.screen : p.camera;
  const speaking = source === 'camera' && (self ? view.self?.speaking === true : view.speaking.has(p.userId));
  const state = self ? { camera: view.self?.cameraOn ?? false, microphone: view.self?.microphoneOn ?? false } : view.states.get(p.userId);
  const label = source === 'screen' ? (self ? t('yourScreen') : t('screenOf', { name: p.name })) : self ? t('you') : t('cameraOf', { name: p.name });
  return html`<figure class=${big ? 'big' : ''} data-user=${p.userId} data-source=${self && source === 'camera' ? 'self' : source} ?data-speaking=${speaking}>
    <video class=${self && source === 'camera' ? 'mirror' : ''} .srcObject=${stream ?? null} autoplay playsinline .muted=${true} aria-label=${label}></video>
    <figcaption><span>${source === 'screen' ? label : p.name}</span>${source === 'camera' ? badges(view, p.userId, speaking, state) : nothing}</figcaption>
  </figure>`;
}

export function renderStage(view: StageView): TemplateResult {
  const { t, self } = view;
  const shown: Shown[] = view.publishers.map((publisher) => ({ publisher, self: false }));
  if (self && (self.camera || self.screen)) {
    shown.push({ publisher: { userId: 'self', name: t('you'), ...(self.camera ? { camera: self.camera } : {}), ...(self.screen ? { screen: self.screen } : {}) }, self: true });
  }
  const main = mainOf(shown);
  const small: TemplateResult[] = [];
  for (const who of shown) {
    if (main && who === main.who && main.source === 'camera') continue;
    if (who.publisher.camera) small.push(tile(view, who, 'camera', false));
    // A second screen share (ours while someone else shares) goes small too.
    if (who.publisher.screen && !(main && who === main.who && main.source === 'screen')) small.push(tile(view, who, 'screen', false));
  }
  return html`<section class="stage" aria-label=${t('stage')} data-stage=${main?.source ?? 'empty'}>
    ${main ? tile(view, main.who, main.source, true) : html`<p aria-live="polite">${view.empty}</p>`}
    ${small.length > 0 ? html`<div class="tiles">${small}</div>` : nothing}
    ${view.publishers.filter((p) => p.audio).map((p) => html`<audio .srcObject=${p.audio ?? null} autoplay data-user=${p.userId}></audio>`)}
  </section>`;
}

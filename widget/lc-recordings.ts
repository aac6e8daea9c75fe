// <lc-recordings>: the class's recording controls and the course's library. A host records the
// live class ("Record", "Stop recording", or "Record automatically" from "Go live" on); everyone
// sees when it is being recorded; the "Recordings" section lists the course's recordings, each
// played in place. Playback uses the browser's own HLS where it has it, else hls.js, fetched only
// when a recording is opened.
import { css, html, nothing } from 'lit';
import type { ClientEvent, ClientPayload, RecordingStateView, RecordingView } from '../server/protocol/index.ts';
import { LIMITS } from '../server/protocol/limits.ts';
import type { ServerHandlers } from './class-connection.ts';
import type { MessageKey } from './i18n.ts';
import { RoomPanel } from './room-panel.ts';

interface HlsPlayer {
  loadSource(url: string): void;
  attachMedia(video: HTMLVideoElement): void;
  on(event: string, listener: (event: string, data: { fatal?: boolean; details?: string }) => void): void;
  destroy(): void;
}
interface HlsModule {
  default: { new (): HlsPlayer; isSupported(): boolean; Events: { ERROR: string } };
}

/** Recording actions are given more time than the panels' other requests. */
const ACTION_TIMEOUT_MS = 30_000;
const LIST_TIMEOUT_MS = 10_000;

const STATUS_KEY: Record<RecordingView['status'], MessageKey> = {
  recording: 'recordingStatusRecording',
  ready: 'recordingStatusReady',
  interrupted: 'recordingStatusInterrupted',
  failed: 'recordingStatusFailed',
};

/** 75 -> "1:15", 3725 -> "1:02:05". */
function clock(seconds: number): string {
  const [h, m, s] = [Math.floor(seconds / 3600), Math.floor(seconds / 60) % 60, seconds % 60];
  const two = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
}

export class LcRecordings extends RoomPanel {
  static override properties = {
    ...RoomPanel.properties,
    _state: { state: true },
    _list: { state: true },
    _playing: { state: true },
    _renaming: { state: true },
    _auto: { state: true },
  };

  static override styles = css`
    :host { display: block; margin-top: .75rem; }
    .controls { display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; }
    button { font: inherit; padding: .4rem .9rem; border-radius: 6px; border: 1px solid #d1d9e0; background: #f6f8fa; color: #1f2328; cursor: pointer; }
    button:focus-visible, input:focus-visible { outline: 3px solid #0969da; outline-offset: 1px; }
    button.danger { background: #cf222e; border-color: #cf222e; color: #fff; }
    button[disabled] { opacity: .5; cursor: default; }
    .rec { display: inline-flex; align-items: center; gap: .35rem; padding: .15rem .6rem; border-radius: 999px; background: #ffebe9; color: #a40e26; font-weight: 600; font-size: .875rem; }
    .rec::before { content: ''; width: .6rem; height: .6rem; border-radius: 50%; background: #cf222e; }
    label.auto { display: inline-flex; align-items: center; gap: .3rem; font-size: .875rem; cursor: pointer; }
    .notice { border-left: 4px solid #cf222e; padding: .25rem .5rem; background: #ffebe9; font-size: .875rem; }
    h2 { font-size: 1rem; margin: 1rem 0 .5rem; }
    ul { list-style: none; margin: 0; padding: 0; }
    li { border: 1px solid #d1d9e0; border-radius: 8px; padding: .6rem .75rem; margin-bottom: .5rem; background: #fff; }
    .title { font-weight: 600; }
    .meta { color: #59636e; font-size: .85rem; margin: .15rem 0 .4rem; }
    video { width: 100%; max-height: 60vh; background: #000; border-radius: 6px; margin-top: .5rem; }
    input { font: inherit; padding: .3rem .5rem; border: 1px solid #d1d9e0; border-radius: 6px; }
  `;

  declare _state: RecordingStateView;
  declare _list: RecordingView[] | undefined;
  declare _playing: string | undefined;
  declare _renaming: string | undefined;
  /** The room records itself when the class goes live (hosts see and change it). */
  declare _auto: boolean;
  #player: HlsPlayer | undefined;

  constructor() {
    super();
    this._state = { recording: false };
    this._auto = false;
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.#stopPlayer();
  }

  protected override events(): ServerHandlers {
    return {
      'recording:state': (state) => {
        this._state = state;
        this._notice = state.problem ? this.t('recordingProblem', { reason: state.problem }) : undefined;
      },
      'recordings:changed': () => void this.sync(),
    };
  }

  /** The course's recordings, with links signed for this user. */
  protected override async sync(): Promise<void> {
    const ack = await this.connection?.request('recordings:list', {}, LIST_TIMEOUT_MS);
    if (!ack?.ok) return;
    this._list = ack.recordings;
    this._auto = ack.autoRecord;
  }

  /** A host's action; answers whether the server accepted it (a refusal shows as the alert). */
  async #act<E extends Extract<ClientEvent, `recording:${string}`>>(event: E, payload: ClientPayload<E>): Promise<boolean> {
    return (await this.send(event, payload, ACTION_TIMEOUT_MS)).ok;
  }

  async #play(recording: RecordingView): Promise<void> {
    this.#stopPlayer();
    this._playing = recording.id;
    await this.updateComplete;
    const video = this.renderRoot.querySelector<HTMLVideoElement>(`video[data-recording="${recording.id}"]`);
    const url = recording.playlistUrl;
    if (!video || !url) return;
    const absolute = new URL(url, document.baseURI).href;
    if (video.canPlayType('application/vnd.apple.mpegurl')) {
      video.src = absolute;
    } else {
      try {
        const { default: Hls } = (await import(/* @vite-ignore */ new URL('./hls.js', import.meta.url).href)) as HlsModule;
        if (!Hls.isSupported()) throw new Error('this browser cannot play HLS video');
        const player = new Hls();
        player.on(Hls.Events.ERROR, (_event, data) => {
          if (data.fatal) this._notice = this.t('recordingPlayerFailed', { reason: data.details ?? 'error' });
        });
        player.loadSource(absolute);
        player.attachMedia(video);
        this.#player = player;
      } catch (error) {
        this._notice = this.t('recordingPlayerFailed', { reason: (error as Error).message });
        return;
      }
    }
    video.play().catch(() => {}); // autoplay may be refused: the controls are there
  }

  #stopPlayer(): void {
    this.#player?.destroy();
    this.#player = undefined;
    this._playing = undefined;
  }

  #meta(r: RecordingView): string {
    const t = this.t;
    const lang = t('timeLocale');
    const date = new Date(r.startedAt).toLocaleString(lang, { dateStyle: 'medium', timeStyle: 'short' });
    const duration = clock(Math.round((r.durationMs ?? 0) / 1000));
    const size = r.sizeBytes == null ? '–' : r.sizeBytes >= 1e9 ? `${(r.sizeBytes / 1e9).toFixed(1)} GB` : `${Math.max(0.1, r.sizeBytes / 1e6).toFixed(1)} MB`;
    return t('recordingMeta', { date, duration, size });
  }

  #item(r: RecordingView, host: boolean) {
    const t = this.t;
    const renaming = this._renaming === r.id;
    return html`<li data-recording-id=${r.id} data-recording-status=${r.status}>
      ${renaming
        ? html`<form @submit=${async (e: Event) => {
            e.preventDefault();
            const title = (new FormData(e.target as HTMLFormElement).get('title') as string).trim();
            if (title && (await this.#act('recording:rename', { id: r.id, title }))) this._renaming = undefined;
          }}><label>${t('recordingTitle')} <input name="title" .value=${r.title} maxlength=${LIMITS.recordingTitle} required /></label>
            <button type="submit" ?disabled=${this._busy}>${t('recordingSave')}</button>
            <button type="button" @click=${() => (this._renaming = undefined)}>${t('recordingCancel')}</button></form>`
        : html`<div class="title">${r.title}</div>`}
      <div class="meta">${this.#meta(r)} · ${t(STATUS_KEY[r.status])}${r.failureReason ? html` · ${r.failureReason}` : nothing}</div>
      <div class="controls">
        ${r.playlistUrl
          ? this._playing === r.id
            ? html`<button @click=${() => this.#stopPlayer()}>${t('recordingClose')}</button>`
            : html`<button aria-label=${`${t('recordingPlay')}: ${r.title}`} @click=${() => void this.#play(r)}>${t('recordingPlay')}</button>`
          : nothing}
        ${host && !renaming ? html`<button @click=${() => (this._renaming = r.id)}>${t('recordingRename')}</button>` : nothing}
        ${host
          ? html`<button class="danger" ?disabled=${this._busy} @click=${() => {
              if (confirm(t('recordingDeleteConfirm', { title: r.title }))) void this.#act('recording:delete', { id: r.id });
            }}>${t('recordingDelete')}</button>`
          : nothing}
      </div>
      ${this._playing === r.id ? html`<video controls playsinline data-recording=${r.id} aria-label=${r.title}></video>` : nothing}
    </li>`;
  }

  override render() {
    const t = this.t;
    const host = this.grant === 'host';
    const live = this.status === 'live';
    const recording = this._state.recording && live;
    return html`
      ${this._notice ? html`<p class="notice" role="alert">${this._notice}</p>` : nothing}
      <div class="controls">
        ${recording ? html`<span class="rec" role="status" data-recording-indicator title=${t('recordingNotice')}>${t('recordingNow')}</span>` : nothing}
        ${host && live
          ? recording
            ? html`<button class="danger" ?disabled=${this._busy} @click=${() => void this.#act('recording:stop', {})}>${t('stopRecording')}</button>`
            : html`<button ?disabled=${this._busy} @click=${() => void this.#act('recording:start', {})}>${t('record')}</button>`
          : nothing}
        ${host
          ? html`<label class="auto" title=${t('recordAutomaticallyHint')}><input type="checkbox" data-auto-record .checked=${this._auto} ?disabled=${this._busy} @change=${async (e: Event) => {
              const box = e.target as HTMLInputElement;
              if (await this.#act('recording:auto', { autoRecord: box.checked })) this._auto = box.checked;
              else box.checked = this._auto;
            }} /> ${t('recordAutomatically')}</label>`
          : nothing}
      </div>
      <section aria-labelledby="recordings-heading">
        <h2 id="recordings-heading">${t('recordingsHeading')}</h2>
        ${this._list === undefined
          ? nothing
          : this._list.length === 0
            ? html`<p class="meta">${t('recordingsEmpty')}</p>`
            : html`<ul>${this._list.map((r) => this.#item(r, host))}</ul>`}
      </section>
    `;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'lc-recordings': LcRecordings;
  }
}

if (!customElements.get('lc-recordings')) customElements.define('lc-recordings', LcRecordings);

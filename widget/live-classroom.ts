// <live-classroom>: the class as a participant sees it inside the LMS page. It connects to the
// tool with the seat token of the launch, shows the class status, the participant count and the
// connection state, the stage (what the instructor shows), and gives hosts and speakers their
// controls: go live, end, camera, microphone, share screen. It owns the connection (ClassConnection)
// and the media (MediaSession), both reactive controllers, and hands the connection to its panels.
import { css, html, LitElement, nothing } from 'lit';
import type { ClassStatus, ClientEvent, Grant, MediaState } from '../server/protocol/index.ts';
import { ClassConnection } from './class-connection.ts';
import { followFrameHeight } from './frame-resize.ts';
import { languageOf, translator, type Translate } from './i18n.ts';
import './lc-interaction.ts';
import './lc-recordings.ts';
import { MediaSession, type MediaTotals, type Publisher } from './media.ts';
import { renderStage, stageStyles } from './stage.ts';

/** Class start and end may take the server a while (attendance goes to the gradebook). */
const CLASS_REQUEST_TIMEOUT_MS = 15_000;
/** Above this audio level (0..1) someone counts as speaking. */
const SPEAKING_LEVEL = 0.02;
const LEVEL_POLL_MS = 300;

export class LiveClassroom extends LitElement {
  static override properties = {
    roomId: { type: String, attribute: 'room-id' },
    role: { type: String },
    locale: { type: String },
    seatToken: { type: String, attribute: 'seat-token' },
    _status: { state: true },
    _grant: { state: true },
    _participants: { state: true },
    _notice: { state: true },
    _busy: { state: true },
    _publishers: { state: true },
    _states: { state: true },
    _speaking: { state: true },
    _selfSpeaking: { state: true },
    _needsSound: { state: true },
    _mediaProblem: { state: true },
  };

  static override styles = [stageStyles, css`
    :host { display: block; font: 16px/1.5 system-ui, sans-serif; color: #1f2328; }
    header { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; margin-bottom: .75rem; }
    .badge { padding: .1rem .5rem; border-radius: 999px; font-size: .875rem; background: #eaeef2; }
    .badge.live { background: #cf222e; color: #fff; font-weight: 600; }
    .badge.offline { background: #fff8c5; }
    .controls { display: flex; gap: .5rem; margin-top: .75rem; flex-wrap: wrap; }
    button { font: inherit; padding: .45rem 1rem; border-radius: 6px; border: 1px solid #1f883d; background: #1f883d; color: #fff; cursor: pointer; }
    button.danger { border-color: #cf222e; background: #cf222e; }
    button.toggle { border-color: #59636e; background: #fff; color: #1f2328; }
    button.toggle[aria-pressed="true"] { border-color: #0969da; background: #ddf4ff; }
    button:disabled { opacity: .6; cursor: default; }
    button:focus-visible { outline: 3px solid #0969da; outline-offset: 2px; }
    .notice { border-left: 4px solid #cf222e; padding: .25rem .75rem; background: #ffebe9; margin-bottom: .75rem; }
    .room { display: grid; gap: 1rem; grid-template-columns: minmax(0, 1fr); align-items: start; }
    @media (min-width: 880px) { .room { grid-template-columns: minmax(0, 2fr) minmax(300px, 1fr); } }
  `];

  declare roomId: string;
  declare role: string;
  declare locale: string;
  declare seatToken: string;
  declare _status: ClassStatus | undefined;
  declare _grant: Grant | undefined;
  declare _participants: number;
  declare _notice: string | undefined;
  declare _busy: boolean;
  declare _publishers: Publisher[];
  declare _states: Map<string, MediaState>;
  declare _speaking: Set<string>;
  declare _selfSpeaking: boolean;
  declare _needsSound: boolean;
  declare _mediaProblem: string | undefined;

  #t: Translate = translator('en');
  /** Opens when the element is on the page, closes when it leaves (added first: media signals through it). */
  readonly #connection = new ClassConnection(this, {
    seat: () => this.seatToken,
    seatRefreshed: (seat) => {
      this.seatToken = seat;
    },
    refused: (reason) => {
      this._notice = this.#t('refused', { reason });
    },
  });
  readonly #media = new MediaSession(this, this.#connection, {
    changed: () => this.#mediaChanged(),
    problem: (reason) => {
      this._mediaProblem = reason === undefined ? undefined : this.#t('mediaProblem', { reason });
    },
  });
  #levels: ReturnType<typeof setInterval> | undefined;
  #welcomed = false;
  #unfollow: (() => void) | undefined;

  constructor() {
    super();
    this._participants = 0;
    this._busy = false;
    this._publishers = [];
    this._states = new Map();
    this._speaking = new Set();
    this._selfSpeaking = false;
    this._needsSound = false;
  }

  override connectedCallback(): void {
    this.#t = translator(languageOf(this.locale));
    // Opens the connection and the media (the controllers' hostConnected).
    super.connectedCallback();
    this.#follow();
    this.#levels = setInterval(() => void this.#pollLevels(), LEVEL_POLL_MS);
    this.#unfollow = followFrameHeight();
  }

  override disconnectedCallback(): void {
    // Closes the connection and the media, and releases the subscriptions.
    super.disconnectedCallback();
    this.#unfollow?.();
    clearInterval(this.#levels);
  }

  /** The room's state, as the server tells it (the connection has seen each event first). */
  #follow(): void {
    const media = this.#media;
    this.#connection.on(this, {
      welcome: (state) => {
        const again = this.#welcomed;
        this.#welcomed = true;
        this._grant = state.grant;
        this._status = state.status;
        this._participants = state.participants;
        this._notice = undefined;
        media.iceServers = state.iceServers;
        media.engine = { simulcast: state.simulcast === true, iceRestart: state.iceRestart === true };
        if (state.status !== 'live') return;
        if (again) void media.resume();
        else void media.receive();
      },
      'class:status': ({ status }) => {
        const was = this._status;
        this._status = status;
        if (status === 'live' && was !== 'live') void media.receive();
        if (status !== 'live') {
          media.stopAll();
          this._states = new Map();
        }
      },
      'media:state': (state) => {
        const states = new Map(this._states);
        states.set(state.userId, state);
        this._states = states;
      },
      'participants:count': ({ count }) => {
        this._participants = count;
      },
      'grant:changed': ({ grant }) => {
        this._grant = grant;
        if (grant !== 'host' && grant !== 'speaker') void media.stopSending();
      },
      'access:revoked': ({ reason: english, code }) => {
        const reason = code ? this.#t(`reason_${code}`) : english;
        this._notice = this._grant ? this.#t('removed', { reason }) : this.#t('refused', { reason });
        media.close();
        this.#mediaChanged();
      },
    });
  }
  /** Video frames decoded, audio packets received and connection states: for diagnostics and tests. */
  async mediaStats(): Promise<MediaTotals> {
    return this.#media.totals();
  }

  #mediaChanged(): void {
    this._publishers = this.#media.publishers();
    this.requestUpdate();
  }

  async #pollLevels(): Promise<void> {
    const media = this.#media;
    if (this._status !== 'live') return;
    const speaking = new Set<string>();
    for (const [userId, level] of await media.levels()) if (level > SPEAKING_LEVEL) speaking.add(userId);
    if (speaking.size !== this._speaking.size || [...speaking].some((u) => !this._speaking.has(u))) this._speaking = speaking;
    const self = (await media.localLevel()) > SPEAKING_LEVEL;
    if (self !== this._selfSpeaking) this._selfSpeaking = self;
  }

  override updated(): void {
    // Browsers may refuse to play sound before the user has interacted with the page.
    for (const audio of this.renderRoot.querySelectorAll('audio')) {
      if (!audio.paused) continue;
      audio.play().then(
        () => {
          if (this._needsSound) this._needsSound = false;
        },
        (error: unknown) => {
          if ((error as Error).name === 'NotAllowedError') this._needsSound = true;
        },
      );
    }
  }

  async #goLive(): Promise<void> {
    await this.#request('class:start');
    // Going live turns the camera and microphone on, as a meeting does; both can be switched off.
    if (this._status === 'live' && !this.#media.sending) await this.#toggleDevice('camera');
  }

  /** The first press asks for camera and microphone together, keeping only the one pressed on. */
  async #toggleDevice(device: 'camera' | 'microphone'): Promise<void> {
    const media = this.#media;
    try {
      if (!media.camera) {
        await media.startCamera();
        if (device === 'microphone') media.setCamera(false);
      } else if (device === 'camera') media.setCamera(!media.cameraOn);
      else media.setMicrophone(!media.microphoneOn);
    } catch (error) {
      this._notice = this.#t('deviceProblem', { reason: (error as Error).message });
    }
    this.#mediaChanged();
  }

  async #toggleScreen(): Promise<void> {
    const media = this.#media;
    try {
      if (media.screen) await media.stopScreen();
      else await media.shareScreen();
    } catch (error) {
      if ((error as Error).name !== 'NotAllowedError') this._notice = this.#t('screenProblem', { reason: (error as Error).message });
    }
    this.#mediaChanged();
  }

  async #request(event: Extract<ClientEvent, 'class:start' | 'class:end'>): Promise<void> {
    this._busy = true;
    try {
      const ack = await this.#connection.request(event, {}, CLASS_REQUEST_TIMEOUT_MS);
      this._notice = ack.ok ? undefined : this.#t('failed', { reason: ack.error });
    } finally {
      this._busy = false;
    }
  }

  override render() {
    const t = this.#t;
    const host = this._grant === 'host';
    const onStage = host || this._grant === 'speaker';
    const status = this._status;
    const live = status === 'live';
    const state = this.#connection.state;
    const ready = !this._busy && state === 'connected';
    const media = this.#media;
    const connection = state === 'connected' ? t('connected') : state === 'connecting' ? t('connecting') : state === 'reconnecting' ? t('reconnecting') : t('offline');
    const role = this._grant === 'host' ? t('roleHost') : this._grant === 'speaker' ? t('roleSpeaker') : this._grant === 'attendee' ? t('roleAttendee') : '';
    const empty = live ? (host ? t('stageEmpty') : t('waitingForVideo')) : status === 'ended' ? t('ended') : status === 'scheduled' ? (host ? t('waitingHost') : t('waiting')) : t('connecting');
    const self = media.camera || media.screen ? { ...(media.camera ? { camera: media.camera } : {}), ...(media.screen ? { screen: media.screen } : {}), cameraOn: media.cameraOn, microphoneOn: media.microphoneOn, speaking: this._selfSpeaking } : undefined;
    return html`
      ${this._notice ? html`<p class="notice" role="alert">${this._notice}</p>` : nothing}
      ${this._mediaProblem && live ? html`<p class="notice" role="alert" data-media-problem>${this._mediaProblem}</p>` : nothing}
      ${live && !this._mediaProblem && state === 'connected' && media.interrupted ? html`<p class="notice" role="status" data-media-interrupted>${t('mediaInterrupted')}</p>` : nothing}
      <header>
        <span class="badge ${live ? 'live' : ''}" aria-label=${t('status')} data-status=${status ?? ''}>${live ? t('live') : status === 'ended' ? t('ended') : status === 'scheduled' ? t('notStarted') : '…'}</span>
        ${role ? html`<span class="badge" data-grant=${this._grant ?? ''}>${role}</span>` : nothing}
        <span class="badge" data-participants=${this._participants}>${this._participants === 1 ? t('participantsOne') : t('participantsMany', { count: this._participants })}</span>
        <span class="badge ${state === 'connected' ? '' : 'offline'}" role="status" aria-live="polite" aria-label=${t('connection')} data-connection=${state}>${connection}</span>
      </header>
      <div class="room"><div>
      ${live ? renderStage({ publishers: this._publishers, states: this._states, speaking: this._speaking, ...(self ? { self } : {}), empty, t }) : html`<section class="stage" aria-label=${t('stage')} data-stage="empty"><p aria-live="polite">${empty}</p></section>`}
      ${this._needsSound ? html`<div class="controls"><button @click=${() => this.updated()}>${t('turnOnSound')}</button></div>` : nothing}
      ${host
        ? html`<div class="controls" role="group" aria-label=${t('hostControls')}>
            ${live
              ? html`<button class="danger" ?disabled=${!ready} @click=${() => this.#request('class:end')}>${t('endClass')}</button>`
              : html`<button ?disabled=${!ready} @click=${() => this.#goLive()}>${t('goLive')}</button>`}
          </div>`
        : nothing}
      ${onStage && live
        ? html`<div class="controls" role="group" aria-label=${t('mediaControls')}>
            <button class="toggle" aria-pressed=${String(!!media.camera && media.cameraOn)} ?disabled=${!ready} @click=${() => this.#toggleDevice('camera')}>${t('camera')}</button>
            <button class="toggle" aria-pressed=${String(!!media.camera && media.microphoneOn)} ?disabled=${!ready} @click=${() => this.#toggleDevice('microphone')}>${t('microphone')}</button>
            <button class="toggle" aria-pressed=${String(!!media.screen)} ?disabled=${!ready} @click=${() => this.#toggleScreen()}>${t('shareScreen')}</button>
          </div>`
        : nothing}
      ${this._grant ? html`<lc-recordings .connection=${this.#connection} .grant=${this._grant} .status=${this._status} .locale=${this.locale}></lc-recordings>` : nothing}
      </div>
      ${this._grant ? html`<lc-interaction .connection=${this.#connection} .grant=${this._grant} .status=${this._status} .locale=${this.locale}></lc-interaction>` : nothing}
      </div>
    `;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'live-classroom': LiveClassroom;
  }
}

if (!customElements.get('live-classroom')) customElements.define('live-classroom', LiveClassroom);

// <live-classroom>: the class as a participant sees it inside the LMS page. It connects to the
// tool with the seat token of the launch, shows the class status, the participant count and the
// connection state, and gives hosts their controls. Media (the stage) arrives with server/media.
import { css, html, LitElement, nothing } from 'lit';
import { io, type Socket } from 'socket.io-client';
import type { Ack, ClassStatus, ClientEvent, ClientEmits, Grant, ServerEvents } from '../server/protocol.ts';
import { languageOf, translator, type Translate } from './i18n.ts';

type Connection = 'connecting' | 'connected' | 'reconnecting' | 'closed';

/** A seat token lives 5 minutes; a fresh one is fetched well before, for reconnecting. */
const SEAT_REFRESH_MS = 2 * 60_000;

export class LiveClassroom extends LitElement {
  static override properties = {
    roomId: { type: String, attribute: 'room-id' },
    role: { type: String },
    locale: { type: String },
    seatToken: { type: String, attribute: 'seat-token' },
    _connection: { state: true },
    _status: { state: true },
    _grant: { state: true },
    _participants: { state: true },
    _notice: { state: true },
    _busy: { state: true },
  };

  static override styles = css`
    :host { display: block; font: 16px/1.5 system-ui, sans-serif; color: #1f2328; }
    header { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; margin-bottom: .75rem; }
    .badge { padding: .1rem .5rem; border-radius: 999px; font-size: .875rem; background: #eaeef2; }
    .badge.live { background: #cf222e; color: #fff; font-weight: 600; }
    .badge.offline { background: #fff8c5; }
    .stage { aspect-ratio: 16 / 9; background: #0d1117; color: #d1d9e0; display: grid; place-items: center; border-radius: 8px; padding: 1rem; text-align: center; }
    .controls { display: flex; gap: .5rem; margin-top: .75rem; flex-wrap: wrap; }
    button { font: inherit; padding: .45rem 1rem; border-radius: 6px; border: 1px solid #1f883d; background: #1f883d; color: #fff; cursor: pointer; }
    button.danger { border-color: #cf222e; background: #cf222e; }
    button:disabled { opacity: .6; cursor: default; }
    button:focus-visible { outline: 3px solid #0969da; outline-offset: 2px; }
    .notice { border-left: 4px solid #cf222e; padding: .25rem .75rem; background: #ffebe9; margin-bottom: .75rem; }
  `;

  declare roomId: string;
  declare role: string;
  declare locale: string;
  declare seatToken: string;
  declare _connection: Connection;
  declare _status: ClassStatus | undefined;
  declare _grant: Grant | undefined;
  declare _participants: number;
  declare _notice: string | undefined;
  declare _busy: boolean;

  #socket: Socket<ServerEvents, ClientEmits> | undefined;
  #refresh: ReturnType<typeof setInterval> | undefined;
  #t: Translate = translator('en');

  constructor() {
    super();
    this._connection = 'connecting';
    this._participants = 0;
    this._busy = false;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    this.#t = translator(languageOf(this.locale));
    this.#connect();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    clearInterval(this.#refresh);
    this.#socket?.close();
    this.#socket = undefined;
  }

  #connect(): void {
    // The socket lives next to the launch page: /lti/launch -> /socket.io/.
    const path = new URL('../socket.io/', document.baseURI).pathname;
    const socket: Socket<ServerEvents, ClientEmits> = io(location.origin, {
      path,
      transports: ['websocket', 'polling'],
      // A function, so every reconnection presents the freshest seat token.
      auth: (cb) => cb({ seat: this.seatToken }),
      reconnectionDelay: 500,
      reconnectionDelayMax: 5_000,
    });
    this.#socket = socket;
    socket.on('welcome', (state) => {
      this._connection = 'connected';
      this._grant = state.grant;
      this._status = state.status;
      this._participants = state.participants;
      this._notice = undefined;
    });
    socket.on('class:status', ({ status }) => {
      this._status = status;
    });
    socket.on('participants:count', ({ count }) => {
      this._participants = count;
    });
    socket.on('grant:changed', ({ grant }) => {
      this._grant = grant;
    });
    socket.on('access:revoked', ({ reason }) => {
      this._notice = this._grant ? this.#t('removed', { reason }) : this.#t('refused', { reason });
      this._connection = 'closed';
      socket.io.opts.reconnection = false;
    });
    socket.on('disconnect', (why) => {
      if (this._connection === 'closed') return;
      // The server closing us on purpose came with access:revoked; anything else is the network.
      this._connection = why === 'io server disconnect' ? 'closed' : 'reconnecting';
    });
    socket.on('connect_error', (error) => {
      if (socket.active) {
        this._connection = 'reconnecting';
      } else {
        this._connection = 'closed';
        this._notice = this.#t('refused', { reason: error.message });
      }
    });
    this.#refresh = setInterval(() => void this.#refreshSeat(), SEAT_REFRESH_MS);
  }

  async #refreshSeat(): Promise<void> {
    const socket = this.#socket;
    if (!socket?.connected) return;
    const ack = (await socket.timeout(10_000).emitWithAck('seat:refresh', {}).catch(() => undefined)) as Ack<{ seat: string }> | undefined;
    if (ack?.ok) this.seatToken = ack.seat;
  }

  async #request(event: Extract<ClientEvent, 'class:start' | 'class:end'>): Promise<void> {
    const socket = this.#socket;
    if (!socket) return;
    this._busy = true;
    try {
      const ack = (await socket.timeout(15_000).emitWithAck(event, {})) as Ack<Record<string, unknown>>;
      this._notice = ack.ok ? undefined : this.#t('failed', { reason: ack.error });
    } catch (error) {
      this._notice = this.#t('failed', { reason: (error as Error).message });
    } finally {
      this._busy = false;
    }
  }

  override render() {
    const t = this.#t;
    const host = this._grant === 'host';
    const status = this._status;
    const connection =
      this._connection === 'connected' ? t('connected') : this._connection === 'connecting' ? t('connecting') : this._connection === 'reconnecting' ? t('reconnecting') : t('offline');
    const role = this._grant === 'host' ? t('roleHost') : this._grant === 'speaker' ? t('roleSpeaker') : this._grant === 'attendee' ? t('roleAttendee') : '';
    const stageText = status === 'live' ? t('stageEmpty') : status === 'ended' ? t('ended') : status === 'scheduled' ? (host ? t('waitingHost') : t('waiting')) : t('connecting');
    return html`
      ${this._notice ? html`<p class="notice" role="alert">${this._notice}</p>` : nothing}
      <header>
        <span class="badge ${status === 'live' ? 'live' : ''}" aria-label=${t('status')} data-status=${status ?? ''}>${status === 'live' ? t('live') : status === 'ended' ? t('ended') : status === 'scheduled' ? t('notStarted') : '…'}</span>
        ${role ? html`<span class="badge" data-grant=${this._grant ?? ''}>${role}</span>` : nothing}
        <span class="badge" data-participants=${this._participants}>${this._participants === 1 ? t('participantsOne') : t('participantsMany', { count: this._participants })}</span>
        <span class="badge ${this._connection === 'connected' ? '' : 'offline'}" role="status" aria-live="polite" aria-label=${t('connection')} data-connection=${this._connection}>${connection}</span>
      </header>
      <section class="stage" aria-live="polite">${stageText}</section>
      ${host
        ? html`<div class="controls" role="group" aria-label=${t('hostControls')}>
            ${status === 'live'
              ? html`<button class="danger" ?disabled=${this._busy || this._connection !== 'connected'} @click=${() => this.#request('class:end')}>${t('endClass')}</button>`
              : html`<button ?disabled=${this._busy || this._connection !== 'connected'} @click=${() => this.#request('class:start')}>${t('goLive')}</button>`}
          </div>`
        : nothing}
    `;
  }
}

if (!customElements.get('live-classroom')) customElements.define('live-classroom', LiveClassroom);

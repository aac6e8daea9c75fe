// What every panel beside the stage shares: the <live-classroom> connection and room state it is
// given, the user's language, following the server's events while it is on the page, catching up at
// every welcome (the first connection and every reconnection), and sending client events with the
// panel busy meanwhile and a refusal shown as its alert.
import { LitElement, type PropertyValues } from 'lit';
import type { Ack, ClassStatus, ClientEvent, ClientPayload, ClientReply, Grant } from '../server/protocol/index.ts';
import type { ClassConnection, ServerHandlers } from './class-connection.ts';
import { languageOf, translator, type Translate } from './i18n.ts';

export abstract class RoomPanel extends LitElement {
  static override properties = {
    connection: { attribute: false },
    grant: { type: String },
    status: { type: String },
    locale: { type: String },
    _notice: { state: true },
    _busy: { state: true },
  };

  declare connection: ClassConnection | undefined;
  declare grant: Grant | undefined;
  declare status: ClassStatus | undefined;
  declare locale: string;
  /** The latest refusal or problem, shown as an alert. */
  declare _notice: string | undefined;
  /** A request is on its way. */
  declare _busy: boolean;
  protected t: Translate = translator('en');
  #bound: ClassConnection | undefined;
  #release: (() => void) | undefined;

  constructor() {
    super();
    this._busy = false;
  }

  /** The server's events the panel follows. */
  protected abstract events(): ServerHandlers;

  /** Asks the server for what the panel shows (after a welcome, so nothing is missed). */
  protected abstract sync(): Promise<void>;

  override connectedCallback(): void {
    super.connectedCallback();
    // Back on the page: its subscriptions were released when it left.
    if (this.hasUpdated) this.#bind();
  }

  override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('locale')) this.t = translator(languageOf(this.locale));
    if (this.connection !== this.#bound) this.#bind();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    // The connection releases this element's subscriptions as it leaves.
    this.#release = undefined;
    this.#bound = undefined;
  }

  #bind(): void {
    if (!this.isConnected) return;
    this.#release?.();
    const connection = this.connection;
    this.#bound = connection;
    this.#release = undefined;
    if (!connection) return;
    const stops = [connection.on(this, this.events()), connection.on(this, { welcome: () => void this.sync() })];
    this.#release = () => {
      for (const stop of stops) stop();
    };
    // Already welcomed: catch up now, the next welcome does it again.
    if (connection.state === 'connected') void this.sync();
  }

  /** Sends a client event with the panel busy meanwhile; a refusal (or being offline) shows as its alert. */
  protected async send<E extends ClientEvent>(event: E, payload: ClientPayload<E>, timeoutMs?: number): Promise<Ack<ClientReply<E>>> {
    const connection = this.connection;
    if (!connection?.connected) {
      const reason = this.t('offline');
      this._notice = this.t('failed', { reason });
      return { ok: false, error: reason };
    }
    this._busy = true;
    try {
      const ack = await connection.request(event, payload, timeoutMs);
      this._notice = ack.ok ? undefined : this.t('failed', { reason: ack.error });
      return ack;
    } finally {
      this._busy = false;
    }
  }
}

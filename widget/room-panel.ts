// What every panel beside the stage shares: the <live-classroom> socket and room state it is given,
// the user's language, following the server's events on whichever socket it holds, and catching up
// once per welcome (`session` goes up at each one: the first connection and every reconnection).
import { LitElement, type PropertyValues } from 'lit';
import type { Socket } from 'socket.io-client';
import type { ClassStatus, ClientEvents, Grant, ServerEvents } from '../server/protocol/index.ts';
import { languageOf, translator, type Translate } from './i18n.ts';

export type RoomSocket = Socket<ServerEvents, ClientEvents>;

export abstract class RoomPanel extends LitElement {
  static override properties = {
    socket: { attribute: false },
    session: { type: Number },
    grant: { type: String },
    status: { type: String },
    locale: { type: String },
  };

  declare socket: RoomSocket | undefined;
  /** Goes up at every welcome: the panel then catches up. */
  declare session: number;
  declare grant: Grant | undefined;
  declare status: ClassStatus | undefined;
  declare locale: string;
  protected t: Translate = translator('en');
  #bound: RoomSocket | undefined;
  #unbind: (() => void) | undefined;
  #synced = 0;

  constructor() {
    super();
    this.session = 0;
  }

  /** Follows the server's events on `socket`; answers the function that stops following them. */
  protected abstract listen(socket: RoomSocket): () => void;

  /** Asks the server for what the panel shows (after a welcome, so nothing is missed). */
  protected abstract sync(): Promise<void>;

  override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('locale')) this.t = translator(languageOf(this.locale));
    if (this.socket !== this.#bound) {
      this.#unbind?.();
      this.#bound = this.socket;
      this.#unbind = this.socket ? this.listen(this.socket) : undefined;
    }
    if (this.session > this.#synced && this.socket) {
      this.#synced = this.session;
      void this.sync();
    }
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.#unbind?.();
    this.#unbind = undefined;
    this.#bound = undefined;
  }
}

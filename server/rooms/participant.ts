// One browser tab admitted to a class: who it is, what it may do, and its connection. A user with
// two tabs is two participants; a tab that reconnects becomes a new participant with the same
// `client`, so its media (keyed by user and client) outlives the blip.
import type { Grant, ServerEvents } from '../protocol/index.ts';
import { hostsChannel } from './channels.ts';
import type { Connection } from './ports.ts';

/** Who a connection is, from its seat token, and which tab it is. */
export interface Seat {
  userId: string;
  roomId: string;
  name: string;
  locale: string;
  /** The widget instance (browser tab), random per page load. */
  client: string;
}

/** How a participant stopped being one: it left (the socket closed), or it was removed. */
export type Departure = 'left' | 'revoked' | 'closed';

export class Participant {
  readonly seat: Seat;
  readonly connection: Connection;
  #grant: Exclude<Grant, 'denied'>;
  /** The attendance row of the class in progress, while it is. */
  presenceId: number | undefined;
  #departure: Departure | undefined;

  constructor(seat: Seat, connection: Connection, grant: Exclude<Grant, 'denied'>) {
    this.seat = seat;
    this.connection = connection;
    this.#grant = grant;
  }

  get userId(): string {
    return this.seat.userId;
  }

  get name(): string {
    return this.seat.name;
  }

  /** The tab's id in the media server: its media is kept by user and tab. */
  get mediaId(): string {
    return `${this.seat.userId}/${this.seat.client}`;
  }

  get grant(): Exclude<Grant, 'denied'> {
    return this.#grant;
  }

  /** Whether the participant may send camera, microphone and screen. */
  get onStage(): boolean {
    return this.#grant === 'host' || this.#grant === 'speaker';
  }

  /** Set once it has left the class, and how. */
  get departure(): Departure | undefined {
    return this.#departure;
  }

  emit<E extends keyof ServerEvents>(event: E, ...args: Parameters<ServerEvents[E]>): void {
    if (this.#departure === undefined) this.connection.emit(event, ...args);
  }

  /** A new grant (on stage, off stage, a host's role given or lost): the tab is told and follows it into or out of the hosts' channel. */
  setGrant(grant: Exclude<Grant, 'denied'>, reason: string): void {
    this.#grant = grant;
    if (grant === 'host') this.connection.join(hostsChannel(this.seat.roomId));
    else this.connection.leave(hostsChannel(this.seat.roomId));
    this.emit('grant:changed', { grant, reason });
  }

  /** Marks it gone (once; the class does the rest). Answers whether this call did. */
  depart(how: Departure): boolean {
    if (this.#departure !== undefined) return false;
    this.#departure = how;
    return true;
  }
}

// The widget's one connection to the tool: a Lit reactive controller of <live-classroom> that opens
// the socket.io connection in hostConnected and closes it in hostDisconnected. It presents the
// freshest seat token at every (re)connection (asking `seat:refresh` every 2 minutes; seats live 5),
// follows the server to the node that serves the room (a refused connection's `data.node`), goes
// back through the tool's public address when a node drains or the node it was sent to stops
// answering, and says where it stands: connecting, connected (welcomed), reconnecting or closed.
//
// Every element speaks through it: `request()` sends a client event and always answers (a refusal
// on a timeout or while offline, never a throw), and `on()` follows server events until the
// subscribing element leaves the page. Subscriptions belong to the connection, not to a socket, so
// they survive the move from one node's socket to another's.
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import { io, type Socket } from 'socket.io-client';
import type { Ack, ClientEvent, ClientEvents, ClientPayload, ClientReply, NodeRedirect, ServerEvents } from '../server/protocol/index.ts';

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'closed';
export type ServerEvent = keyof ServerEvents;
/** Listeners for some of the server's events, by name. */
export type ServerHandlers = { [E in ServerEvent]?: ServerEvents[E] };

type LiveSocket = Socket<ServerEvents, ClientEvents>;
type Listener = (...args: never[]) => void;
/**
 * `emitWithAck` as socket.io's typings give it for each literal event name; they cannot resolve a
 * type parameter, so `request()` states it once.
 */
type Emit = <E extends ClientEvent>(event: E, payload: ClientPayload<E>) => Promise<Ack<ClientReply<E>>>;

/** A seat token lives 5 minutes; a fresh one is fetched well before, for reconnecting. */
const SEAT_REFRESH_MS = 2 * 60_000;
const SEAT_REFRESH_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 10_000;
/** Redirects to another node followed before a welcome (never in a loop). */
const MAX_REDIRECTS = 3;
/** Failed attempts at the node we were sent to before asking the public address again. */
const MAX_UNREACHABLE = 3;

export interface ConnectionOptions {
  /** The seat token to present now (the launch's, or the freshest `seatRefreshed` gave). */
  seat(): string;
  seatRefreshed(seat: string): void;
  /** The tool refused the connection and no retry follows; `reason` is the server's (English). */
  refused(reason: string): void;
}

export class ClassConnection implements ReactiveController {
  readonly #host: ReactiveControllerHost;
  readonly #options: ConnectionOptions;
  readonly #listeners = new Map<ServerEvent, Set<Listener>>();
  /** This tab, so the server keeps its media across a reconnection. */
  readonly #client = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, '0')).join('');
  #socket: LiveSocket | undefined;
  #state: ConnectionState = 'connecting';
  #refresh: ReturnType<typeof setInterval> | undefined;
  #drain: ReturnType<typeof setTimeout> | undefined;
  /** Redirects to another node followed since the last welcome. */
  #redirects = 0;
  /** The NODE_URL we were sent to, if any, and how many times in a row it could not be reached. */
  #node: string | undefined;
  #unreachable = 0;
  /** The node is draining: the disconnect that follows is not the end. */
  #moving = false;

  constructor(host: ReactiveControllerHost, options: ConnectionOptions) {
    this.#host = host;
    this.#options = options;
    // First in line for these events, so every subscriber sees the state they lead to.
    this.#listen({
      welcome: () => {
        this.#redirects = 0;
        this.#setState('connected');
      },
      'access:revoked': () => {
        // The server disconnects right after: that is the end.
        this.#setState('closed');
        if (this.#socket) this.#socket.io.opts.reconnection = false;
      },
      'server:draining': ({ reconnectInMs }) => {
        // This node is going away; another takes the class over when we come back through the public address.
        const socket = this.#socket;
        this.#setState('reconnecting');
        this.#moving = true;
        clearTimeout(this.#drain);
        this.#drain = setTimeout(() => {
          this.#moving = false;
          if (this.#socket === socket) this.#moveTo(undefined);
        }, reconnectInMs);
      },
    });
    host.addController(this);
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** The socket is up (the welcome may not have come yet: see `state`). */
  get connected(): boolean {
    return this.#socket?.connected === true;
  }

  hostConnected(): void {
    this.#redirects = 0;
    this.#moving = false;
    this.#setState('connecting');
    this.#open(undefined);
    this.#refresh = setInterval(() => void this.#refreshSeat(), SEAT_REFRESH_MS);
  }

  hostDisconnected(): void {
    clearInterval(this.#refresh);
    clearTimeout(this.#drain);
    this.#refresh = undefined;
    this.#drain = undefined;
    this.#drop();
    this.#state = 'closed';
  }

  /**
   * Sends a client event and answers the server's reply, or a refusal when it did not answer
   * within `timeoutMs` or the socket is down (nothing is queued for later).
   */
  async request<E extends ClientEvent>(event: E, payload: ClientPayload<E>, timeoutMs = REQUEST_TIMEOUT_MS): Promise<Ack<ClientReply<E>>> {
    const socket = this.#socket;
    if (!socket?.connected) return { ok: false, error: 'not connected' };
    try {
      const timed = socket.timeout(timeoutMs);
      return await (timed.emitWithAck.bind(timed) as Emit)(event, payload);
    } catch (error) {
      return { ok: false, error: error instanceof Error ? error.message : String(error) };
    }
  }

  /**
   * Follows server events while `host` is on the page: the listeners are released when it leaves
   * (or earlier, with the function answered).
   */
  on(host: ReactiveControllerHost, handlers: ServerHandlers): () => void {
    const release = this.#listen(handlers);
    const subscription: ReactiveController = { hostDisconnected: () => stop() };
    const stop = (): void => {
      release();
      host.removeController(subscription);
    };
    host.addController(subscription);
    return stop;
  }

  #listen(handlers: ServerHandlers): () => void {
    const entries = Object.entries(handlers) as Array<[ServerEvent, Listener | undefined]>;
    for (const [event, listener] of entries) {
      if (!listener) continue;
      let set = this.#listeners.get(event);
      if (!set) this.#listeners.set(event, (set = new Set()));
      set.add(listener);
    }
    return () => {
      for (const [event, listener] of entries) if (listener) this.#listeners.get(event)?.delete(listener);
    };
  }

  #dispatch(event: string, args: unknown[]): void {
    const listeners = this.#listeners.get(event as ServerEvent);
    if (!listeners) return;
    for (const listener of [...listeners]) {
      // One listener that throws must not keep the others from hearing the event.
      try {
        (listener as (...args: unknown[]) => void)(...args);
      } catch (error) {
        reportError(error);
      }
    }
  }

  #setState(state: ConnectionState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#host.requestUpdate();
  }

  /**
   * A socket to the tool at `node` (a NODE_URL the server sent us to), or beside the launch page
   * when undefined: /lti/launch -> /socket.io/.
   */
  #open(node: string | undefined): void {
    const base = node === undefined ? new URL('../socket.io/', document.baseURI) : new URL(`${node.replace(/\/+$/, '')}/socket.io/`);
    const socket: LiveSocket = io(base.origin, {
      path: base.pathname,
      transports: ['websocket', 'polling'],
      // A function, so every reconnection presents the freshest seat token.
      auth: (cb) => cb({ seat: this.#options.seat(), client: this.#client }),
      reconnectionDelay: 500,
      reconnectionDelayMax: 5_000,
    });
    this.#socket = socket;
    this.#node = node;
    this.#unreachable = 0;
    this.#bind(socket);
  }

  #drop(): void {
    const socket = this.#socket;
    this.#socket = undefined;
    if (!socket) return;
    socket.offAny();
    socket.removeAllListeners();
    socket.io.removeAllListeners();
    socket.close();
  }

  /** Leaves this socket for one to `node` (undefined: the tool's public address); subscriptions follow. */
  #moveTo(node: string | undefined): void {
    this.#drop();
    this.#open(node);
    this.#host.requestUpdate();
  }

  #bind(socket: LiveSocket): void {
    socket.onAny((event: string, ...args: unknown[]) => {
      if (socket === this.#socket) this.#dispatch(event, args);
    });
    socket.on('disconnect', (why) => {
      if (this.#state === 'closed' || this.#moving) return;
      // The server closing us on purpose came with access:revoked; anything else is the network.
      this.#setState(why === 'io server disconnect' ? 'closed' : 'reconnecting');
    });
    socket.on('connect_error', (error) => {
      const redirect = (error as Error & { data?: Partial<NodeRedirect> }).data?.node;
      if (typeof redirect === 'string' && this.#redirects < MAX_REDIRECTS) {
        // The class is served by another node of the tool: go there (a few times at most, never in a loop).
        this.#redirects += 1;
        this.#moveTo(redirect);
        return;
      }
      if (this.#node !== undefined && socket.active && ++this.#unreachable >= MAX_UNREACHABLE) {
        // The node we were sent to does not answer: the public address finds the room a new one.
        this.#moveTo(undefined);
        return;
      }
      if (socket.active) {
        this.#setState('reconnecting');
      } else {
        this.#setState('closed');
        this.#options.refused(error.message);
      }
    });
  }

  async #refreshSeat(): Promise<void> {
    if (!this.connected) return;
    const ack = await this.request('seat:refresh', {}, SEAT_REFRESH_TIMEOUT_MS);
    if (ack.ok) this.#options.seatRefreshed(ack.seat);
  }
}

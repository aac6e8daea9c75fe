// socket.io: the widget's live connection. Sockets in, calls on the class, events out: a socket is
// checked at connect (its seat token, and with several nodes whether this node serves the room),
// admitted by its class (server/rooms), then each of its events goes to the handler table. What a
// class tells its participants goes out through the hub's channels.
import type { Decision } from '../access/index.ts';
import type { Repositories } from '../db/index.ts';
import type { Logger } from '../logger/index.ts';
import type { Classes, Participant, RecordingLibrary, Seat } from '../rooms/index.ts';
import { roomChannel } from '../rooms/index.ts';
import { answerUntilAdmitted, bindEvents } from './events.ts';
import { dispatch, type HandlerServices } from './handlers.ts';
import type { LiveServer, LiveSocket, SocketHub } from './hub.ts';
import { localPlacement, redirectTo, redisPlacement, type NodeIdentity, type Placement } from './placement.ts';

export { SocketHub, MAX_MESSAGE_BYTES, type LiveServer, type LiveSocket, type InterServerEvents, type SocketData } from './hub.ts';
export { failureAck } from './events.ts';
export { handlers, type Handlers } from './handlers.ts';
export type { NodeIdentity, Placement } from './placement.ts';

/** Seat tokens: checked at connect, issued afresh for reconnecting. */
export interface SeatIssuer {
  verify(token: string): { userId: string; roomId: string; role: string; name: string; locale: string };
  issue(seat: { userId: string; roomId: string; role: 'host' | 'attendee'; name: string; locale: string }): string;
}

export interface RealtimeDependencies {
  hub: SocketHub;
  classes: Classes;
  seats: SeatIssuer;
  repositories: () => Repositories;
  library: RecordingLibrary;
  logger: Logger;
  /** This node (NODE_ID, NODE_URL): with Redis, each room is served by one node and the others send its participants there. */
  node: NodeIdentity;
}

/** The widget's tab id: letters, digits, `_` and `-`, 8 to 64. */
const CLIENT_ID = /^[A-Za-z0-9_-]{8,64}$/;

export class Realtime {
  readonly #deps: RealtimeDependencies;
  readonly #services: HandlerServices;
  /** Which node serves which room. */
  readonly placement: Placement;
  #closing: Promise<void> | undefined;

  constructor(deps: RealtimeDependencies) {
    this.#deps = deps;
    const { hub, classes, logger, seats } = deps;
    this.placement = hub.redis
      ? redisPlacement({ self: deps.node, redis: hub.redis.commands, logger, servedRooms: () => classes.roomIds() })
      : localPlacement(deps.node);
    this.#services = {
      repositories: deps.repositories,
      library: deps.library,
      issueSeat: ({ seat, grant }: Participant) => seats.issue({ userId: seat.userId, roomId: seat.roomId, role: grant === 'host' ? 'host' : 'attendee', name: seat.name, locale: seat.locale }),
      libraryChanged: (roomId) => hub.io.to(roomChannel(roomId)).emit('recordings:changed', {}),
    };
    hub.onGrantChanged((roomId: string, userId: string, decision: Decision) => classes.get(roomId)?.applyGrant(userId, decision, true));
    hub.io.use((socket, next) => {
      const auth = socket.handshake.auth as { seat?: unknown; client?: unknown } | undefined;
      const token = auth?.seat;
      if (typeof token !== 'string' || token === '') return next(new Error('a seat token is required: open the class from the course page'));
      const client = typeof auth?.client === 'string' && CLIENT_ID.test(auth.client) ? auth.client : socket.id;
      let seat: ReturnType<SeatIssuer['verify']>;
      try {
        seat = seats.verify(token);
      } catch (error) {
        return next(new Error((error as Error).message));
      }
      socket.data = { userId: seat.userId, roomId: seat.roomId, name: seat.name, locale: seat.locale, client };
      // The room's media lives on one node: a participant who reached another is sent there.
      this.placement.ownerOf(seat.roomId).then(
        (owner) => next(owner.id === this.placement.self.id ? undefined : redirectTo(owner)),
        (error: unknown) => {
          logger.warn({ err: error, room: seat.roomId }, 'could not find the node that serves a room');
          next(new Error('Live Classroom cannot reach this class just now; try again in a moment'));
        },
      );
    });
    hub.io.on('connection', (socket) => void this.#connect(socket));
  }

  /** The socket.io server (for operations and tests: who is connected here). */
  get io(): LiveServer {
    return this.#deps.hub.io;
  }

  async #connect(socket: LiveSocket): Promise<void> {
    const { classes, logger } = this.#deps;
    const seat: Seat = { ...socket.data };
    const stopEarlyAnswers = answerUntilAdmitted(socket, logger);
    const liveClass = classes.enter(seat.roomId);
    let participant: Participant | undefined;
    // Registered before the first await: a socket may leave while it is being admitted.
    socket.on('disconnect', () => {
      if (participant) liveClass.leave(participant, 'left');
    });
    try {
      participant = await liveClass.admit(seat, {
        id: socket.id,
        get connected() {
          return socket.connected;
        },
        emit: (event, ...args) => socket.emit(event, ...args),
        join: (channel) => socket.join(channel),
        leave: (channel) => socket.leave(channel),
        disconnect: () => socket.disconnect(true),
      });
    } catch (error) {
      logger.error({ err: error, room: seat.roomId, user: seat.userId }, 'admitting a socket failed');
      socket.emit('access:revoked', { reason: 'Live Classroom could not check your access just now; reload the page to try again' });
      socket.disconnect(true);
    }
    if (!participant) return liveClass.checkEmpty();
    if (!socket.connected) return liveClass.leave(participant, 'left');
    const admitted = participant;
    bindEvents(socket, admitted, (event, data) => dispatch(event, data as never, { ...this.#services, participant: admitted, liveClass }), logger);
    stopEarlyAnswers();
  }

  /**
   * Before this node goes away (SIGTERM): hands its rooms back, so the next node a participant
   * reaches takes them, tells every browser to come back through the public address, each at its
   * own moment within `spreadMs`, then lets the sockets go. Answers how many tabs were told.
   */
  async drain(spreadMs?: number): Promise<number> {
    const { hub, classes, logger } = this.#deps;
    await this.placement.release();
    const told = await classes.closeAll('drained', spreadMs);
    // Sockets still being admitted are let go too: they come back the same way.
    hub.io.disconnectSockets(true);
    logger.info({ node: this.placement.self.id, sockets: told }, 'drained: browsers told to reconnect through the public address');
    return told;
  }

  /** Stops placing rooms and closes the sockets (the classes are the runtime's to close). Safe to call twice. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.placement.close();
      await this.#deps.hub.close();
    })();
    return this.#closing;
  }
}

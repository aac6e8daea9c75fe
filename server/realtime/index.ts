// socket.io: the widget's live connection. A socket is admitted with the seat token of its launch
// and the access rules' decision; it lives in its room until it leaves, the class ends for it, or
// a re-check (every ACCESS_RECHECK_SECONDS) finds it may no longer be there.
import type { Server as HttpServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import type { AccessService, AttendanceReporter, Decision } from '../access/index.ts';
import { AccessRefusedError, RoomNotFoundError } from '../access/index.ts';
import type { Repositories } from '../db/index.ts';
import type { Logger } from '../logger.ts';
import type { MediaServer } from '../media/index.ts';
import { PROTOCOL_VERSION, type ClassStatus, type Grant, type ServerEvents } from '../protocol/index.ts';
import { roomChannel } from './channels.ts';
import { eventBinder } from './events.ts';
import { Interaction } from './interaction.ts';
import { MediaSignaling, SignalingError } from './media.ts';
import { recordIfAsked, recordingOnArrival, registerRecordingEvents, type RecordingControl } from './recording.ts';
import { drain, localPlacement, redirectTo, redisPlacement, type NodeIdentity, type Placement } from './placement.ts';
import { useRedisAdapter, type RedisLink } from './redis.ts';

export { exportInteraction, type InteractionExport } from './export.ts';
export { roomChannel } from './channels.ts';
export { recordingSources, type RecordingControl } from './recording.ts';

export interface SeatIssuer {
  verify(token: string): { userId: string; roomId: string; role: string; name: string; locale: string };
  issue(seat: { userId: string; roomId: string; role: 'host' | 'attendee'; name: string; locale: string }): string;
}

export interface RealtimeDependencies {
  httpServer: HttpServer;
  seats: SeatIssuer;
  access: AccessService;
  attendance: AttendanceReporter;
  repositories: () => Repositories;
  logger: Logger;
  recheckSeconds: number;
  media: MediaServer;
  /** STUN/TURN servers handed to browsers (TURN_URLS, TURN_SECRET). */
  turn: { urls: string[]; secret: string | undefined };
  /** Most receiving connections this node serves (MEDIA_MAX_SUBSCRIBERS). */
  maxSubscribers: number;
  /** Most participants in a room, hosts excepted, unless the room sets its own (ROOM_SEAT_LIMIT). */
  seatLimit: number;
  /** How long a tab's media outlives a lost socket. Default 15 s. */
  mediaGraceMs?: number;
  /** The recorder (recordings/), once it is ready. */
  recordings?: () => RecordingControl | undefined;
  /** REDIS_URL: socket.io rooms (chat, questions, hands, polls, grants) span every node through Redis. */
  redisUrl?: string | undefined;
  /** This node (NODE_ID, NODE_URL): with Redis, each room is served by one node and the others send its participants there. */
  node?: NodeIdentity;
  /** PUBLIC_URL: the launch page's origin, allowed to open sockets to this node's NODE_URL. */
  publicUrl?: string;
}

export interface SocketData {
  userId: string;
  roomId: string;
  name: string;
  locale: string;
  /** The browser tab (the widget instance), so its media survives a reconnection. */
  client: string;
  grant: Decision['grant'];
  presenceId?: number;
  /** Removed on purpose: its media goes at once, not after a grace period. */
  revoked?: boolean;
}

export type LiveSocket = Socket<Record<string, never>, ServerEvents, Record<string, never>, SocketData>;

/** Between nodes (Redis): a grant changed for a user of a room. */
const GRANT_CHANGED = 'lc:grant-changed';

/**
 * socket.io closes a connection whose message is larger than this (it cannot be answered). It is
 * above what any event may carry (an SDP is at most 60 KiB), so a payload past its field's limit
 * within it is refused by the event's schema, with an answer; it is read before the seat token is
 * checked, so it stays small.
 */
export const MAX_MESSAGE_BYTES = 128 * 1024;

/** A silent network drop is noticed by missing pings in 10 to 20 s (socket.io's default: 25 to 45 s). */
const HEARTBEAT = { pingInterval: 10_000, pingTimeout: 10_000 };

export class Realtime {
  readonly io: Server<Record<string, never>, ServerEvents, Record<string, never>, SocketData>;
  readonly #deps: RealtimeDependencies;
  readonly #timer: NodeJS.Timeout;
  readonly media: MediaSignaling;
  /** The SFU itself, for its counters. */
  readonly mediaServer: MediaServer;
  /** Chat, questions, hands and polls. */
  readonly interaction: Interaction;
  readonly #redis: RedisLink | undefined;
  /** Which node serves which room. */
  readonly placement: Placement;
  #closing: Promise<void> | undefined;
  #checking = false;
  /** Each socket's answer to events sent before it was admitted (removed once it is). */
  readonly #earlyAnswers = new WeakMap<object, (...args: unknown[]) => void>();

  constructor(deps: RealtimeDependencies) {
    this.#deps = deps;
    this.mediaServer = deps.media;
    this.media = new MediaSignaling({
      media: deps.media,
      logger: deps.logger,
      turn: deps.turn,
      maxSubscribers: deps.maxSubscribers,
      graceMs: deps.mediaGraceMs ?? 15_000,
      broadcastState: (roomId, state) => this.io.to(roomChannel(roomId)).emit('media:state', state),
    });
    // The launch page (PUBLIC_URL) may open a socket to this node's own NODE_URL.
    const origin = deps.publicUrl && deps.node && new URL(deps.publicUrl).origin !== new URL(deps.node.url).origin ? new URL(deps.publicUrl).origin : false;
    this.io = new Server(deps.httpServer, { path: '/socket.io', serveClient: false, maxHttpBufferSize: MAX_MESSAGE_BYTES, cors: { origin }, ...HEARTBEAT });
    this.#redis = deps.redisUrl ? useRedisAdapter(this.io as unknown as Server, deps.redisUrl, deps.logger) : undefined;
    const self = deps.node ?? { id: 'local', url: deps.publicUrl ?? '' };
    this.placement = this.#redis
      ? redisPlacement({ self, redis: this.#redis.commands, logger: deps.logger, servedRooms: () => this.#servedRooms() })
      : localPlacement(self);
    if (this.#redis) {
      (this.io as unknown as Server).on(GRANT_CHANGED, (roomId: string, userId: string, decision: Decision) => this.#grantChanged(roomId, userId, decision, false));
    }
    this.interaction = new Interaction({
      io: () => this.io,
      repositories: deps.repositories,
      logger: deps.logger,
      bringOnStage: async (actorId, roomId, userId) => {
        const decision = await deps.access.bringOnStage(actorId, roomId, userId);
        this.#grantChanged(roomId, userId, decision);
        return decision;
      },
    });
    this.io.use((socket, next) => {
      const auth = socket.handshake.auth as { seat?: unknown; client?: unknown } | undefined;
      const token = auth?.seat;
      if (typeof token !== 'string' || token === '') return next(new Error('a seat token is required: open the class from the course page'));
      const client = typeof auth?.client === 'string' && /^[A-Za-z0-9_-]{8,64}$/.test(auth.client) ? auth.client : socket.id;
      let seat: ReturnType<SeatIssuer['verify']>;
      try {
        seat = deps.seats.verify(token);
      } catch (error) {
        return next(new Error((error as Error).message));
      }
      socket.data = { userId: seat.userId, roomId: seat.roomId, name: seat.name, locale: seat.locale, client, grant: 'denied' };
      // The room's media lives on one node: a participant who reached another is sent there.
      this.placement.ownerOf(seat.roomId).then(
        (owner) => next(owner.id === this.placement.self.id ? undefined : redirectTo(owner)),
        (error: unknown) => {
          deps.logger.warn({ err: error, room: seat.roomId }, 'could not find the node that serves a room');
          next(new Error('Live Classroom cannot reach this class just now; try again in a moment'));
        },
      );
    });
    this.io.on('connection', (socket) => {
      // Events sent before the socket is admitted (its handlers are set up after the access check)
      // are answered, not dropped: the client asked too early.
      const early = (_event: unknown, ...args: unknown[]) => {
        const ack = args.at(-1);
        if (typeof ack !== 'function') return;
        try {
          (ack as (answer: { ok: false; error: string }) => void)({ ok: false, error: 'you are still joining the class; try again in a moment' });
        } catch (error) {
          deps.logger.warn({ err: error }, 'answering an early socket event failed');
        }
      };
      socket.onAny(early);
      this.#earlyAnswers.set(socket, early);
      this.#admit(socket).catch((error: unknown) => {
        const where = { room: socket.data.roomId, user: socket.data.userId };
        let reason = 'Live Classroom could not check your access just now; reload the page to try again';
        if (error instanceof RoomNotFoundError) {
          deps.logger.info(where, 'a seat for a room that no longer exists was refused');
          reason = 'this live class was removed from the course; open the course page again';
        } else {
          deps.logger.error({ err: error, ...where }, 'admitting a socket failed');
        }
        socket.emit('access:revoked', { reason });
        socket.disconnect(true);
      });
    });
    this.#timer = setInterval(() => void this.recheckAll(), deps.recheckSeconds * 1000);
    this.#timer.unref();
  }

  async #admit(socket: LiveSocket): Promise<void> {
    const { access, repositories, logger } = this.#deps;
    const { userId, roomId } = socket.data;
    const repos = repositories();
    // Registered before the first await: a socket may leave while it is being admitted.
    socket.on('disconnect', () => {
      const presenceId = socket.data.presenceId;
      socket.data.presenceId = undefined;
      if (presenceId !== undefined) repos.classes.left(presenceId).catch((error: unknown) => logger.warn({ err: error, room: roomId, user: userId }, 'recording a departure failed'));
      this.media.detach(socket, socket.data.revoked === true);
      this.#broadcastCount(roomId);
    });
    const decision = await access.decide(userId, roomId, 'join');
    if (decision.grant === 'denied') {
      socket.emit('access:revoked', { reason: decision.reason, ...(decision.code ? { code: decision.code } : {}) });
      socket.disconnect(true);
      return;
    }
    if (!socket.connected) return;
    const full = decision.grant === 'host' ? undefined : await this.#roomFull(roomId, userId);
    if (full) {
      socket.emit('access:revoked', { reason: full, code: 'roomFull' });
      socket.disconnect(true);
      return;
    }
    if (!socket.connected) return;
    socket.data.grant = decision.grant;
    // Into the channel first, then look for a class in progress: a class started meanwhile either
    // finds this socket in the channel or is found here (a second presence row is harmless).
    await socket.join(roomChannel(roomId));
    const session = await repos.classes.current(roomId);
    if (session && socket.data.presenceId === undefined) {
      const presenceId = await repos.classes.joined(session.id, userId);
      if (socket.connected) socket.data.presenceId = presenceId;
      else await repos.classes.left(presenceId);
    }
    if (!socket.connected) return;
    await this.interaction.attach(socket);
    this.#handle(socket);
    const early = this.#earlyAnswers.get(socket);
    if (early) socket.offAny(early);
    // A class in progress is live whatever the room row says; only without one is the row read.
    const status: ClassStatus = session ? 'live' : ((await repos.rooms.get(roomId))?.status ?? 'scheduled');
    const participants = await this.#count(roomId);
    this.media.attach(socket);
    socket.emit('welcome', { protocol: PROTOCOL_VERSION, grant: decision.grant, reason: decision.reason, status, participants, iceServers: this.media.iceServers(userId) });
    for (const state of this.media.states(roomId)) socket.emit('media:state', state);
    recordingOnArrival(roomId, session?.recording === true, this.#deps, { one: (state) => socket.emit('recording:state', state), room: (state) => this.io.to(roomChannel(roomId)).emit('recording:state', state) });
    // One count for the newcomer and everyone else.
    this.io.to(roomChannel(roomId)).except(socket.id).emit('participants:count', { count: participants });
    logger.debug({ room: roomId, user: userId, grant: decision.grant }, 'joined');
  }

  #handle(socket: LiveSocket): void {
    const on = eventBinder(socket as unknown as Socket, this.#deps.logger, socket.data);
    this.interaction.register(socket, on);
    const hostOnly = (): void => {
      if (socket.data.grant !== 'host') throw new AccessRefusedError('only a host can do this');
    };
    on('class:start', async () => {
      hostOnly();
      return { ok: true, status: await this.startClass(socket.data.roomId) };
    });
    on('class:end', async () => {
      hostOnly();
      const ended = await this.endClass(socket.data.roomId);
      return { ok: true, ...ended };
    });
    on('seat:refresh', async () => {
      // Only while still admitted: the grant is re-checked by the periodic re-check and on reconnect.
      const { userId, roomId, name, locale, grant } = socket.data;
      if (grant === 'denied') throw new AccessRefusedError('you are no longer admitted to this room');
      return { ok: true, seat: this.#deps.seats.issue({ userId, roomId, role: grant === 'host' ? 'host' : 'attendee', name, locale }) };
    });
    /** Someone a host names must be in the room (connected to it), or on its stage to be taken off. */
    const inClass = async (userId: string, orOnStage: boolean): Promise<void> => {
      const { roomId } = socket.data;
      if ((await this.#sockets(roomId)).some((s) => s.data.userId === userId)) return;
      if (orOnStage && (await this.#deps.repositories().stage.has(roomId, userId))) return;
      throw new AccessRefusedError('this person is not in the class');
    };
    on('stage:add', async ({ data }) => {
      hostOnly();
      await inClass(data.userId, false);
      const decision = await this.#deps.access.bringOnStage(socket.data.userId, socket.data.roomId, data.userId);
      this.#grantChanged(socket.data.roomId, data.userId, decision);
      this.interaction.stageChanged(socket.data.roomId);
      return { ok: true, grant: decision.grant };
    });
    on('stage:remove', async ({ data }) => {
      if (data.userId !== socket.data.userId) hostOnly();
      await inClass(data.userId, true);
      const decision = await this.#deps.access.takeOffStage(socket.data.userId, socket.data.roomId, data.userId);
      this.#grantChanged(socket.data.roomId, data.userId, decision);
      this.interaction.stageChanged(socket.data.roomId);
      return { ok: true, grant: decision.grant };
    });
    const live = async (): Promise<void> => {
      if (!(await this.#deps.repositories().classes.current(socket.data.roomId))) throw new SignalingError('the class has not started');
    };
    on('media:publish', async ({ data }) => {
      await live();
      return { ok: true, sdp: await this.media.publish(socket, data.sdp, data.sources, data.restart === true) };
    });
    on('media:unpublish', async () => {
      await this.media.unpublish(socket);
      return { ok: true };
    });
    on('media:subscribe', async ({ data }) => {
      await live();
      return { ok: true, ...(await this.media.subscribe(socket, data.restart === true)) };
    });
    on('media:answer', async ({ data }) => {
      await this.media.answer(socket, data.sdp);
      return { ok: true };
    });
    on('media:state', async ({ data }) => {
      this.media.state(socket, data);
      return { ok: true };
    });
    const libraryChanged = (roomId: string) => this.io.to(roomChannel(roomId)).emit('recordings:changed', {});
    registerRecordingEvents(on, { control: () => this.#deps.recordings?.(), seat: socket.data, repositories: this.#deps.repositories, hostOnly, live, libraryChanged });
  }

  /** A refusal if the room already holds its seat limit of participants (hosts and this user aside). */
  async #roomFull(roomId: string, userId: string): Promise<string | undefined> {
    const room = await this.#deps.repositories().rooms.get(roomId);
    const limit = room?.seatLimit ?? this.#deps.seatLimit;
    const others = new Set<string>();
    for (const s of await this.#sockets(roomId)) if (s.data.grant !== 'host' && s.data.userId !== userId) others.add(s.data.userId);
    return others.size >= limit ? `the room is full (${limit} ${limit === 1 ? 'seat' : 'seats'}); try again when someone leaves, or ask your instructor to raise the limit` : undefined;
  }

  /** Opens the class: a session starts and everyone already waiting counts as present. */
  async startClass(roomId: string): Promise<ClassStatus> {
    const repos = this.#deps.repositories();
    const session = await repos.classes.start(roomId);
    for (const s of await this.#sockets(roomId)) {
      if (s.data.presenceId === undefined) s.data.presenceId = await repos.classes.joined(session.id, s.data.userId);
    }
    const room = await repos.rooms.update(roomId, { status: 'live' });
    // Only a class that starts now: Go live pressed again must not restart a recording a host stopped.
    if (session.fresh) recordIfAsked(room, this.#deps, (state) => this.io.to(roomChannel(roomId)).emit('recording:state', state));
    this.io.to(roomChannel(roomId)).emit('class:status', { status: 'live' });
    this.#deps.logger.info({ room: roomId, session: session.id }, 'class started');
    return 'live';
  }

  /** Ends the class for everyone, then sends attendance to the LMS if the room asks for it. */
  async endClass(roomId: string): Promise<{ status: ClassStatus; attendanceSent: number; attendanceProblem?: string }> {
    const repos = this.#deps.repositories();
    const session = await repos.classes.current(roomId);
    await repos.rooms.update(roomId, { status: 'ended' });
    await repos.stage.clear(roomId);
    await this.interaction.classEnded(roomId);
    // The recording closes first, so it ends with the class's last picture and sound.
    await this.#deps.recordings?.()?.stop(roomId).catch((error: unknown) => this.#deps.logger.error({ err: error, room: roomId }, 'stopping the recording failed'));
    this.#deps.recordings?.()?.forget(roomId);
    await this.media.closeRoom(roomId);
    for (const s of await this.#sockets(roomId)) {
      s.data.presenceId = undefined;
      if (s.data.grant === 'speaker') s.data.grant = 'attendee';
    }
    this.io.to(roomChannel(roomId)).emit('class:status', { status: 'ended' });
    if (!session) return { status: 'ended', attendanceSent: 0 };
    const ended = (await repos.classes.end(session.id)) ?? session;
    this.#deps.logger.info({ room: roomId, session: session.id }, 'class ended');
    const report = await this.#deps.attendance.report(ended);
    return { status: 'ended', attendanceSent: report.sent, ...(report.problem ? { attendanceProblem: report.problem } : {}) };
  }

  /** Checks everyone connected to this node again; removes whoever may no longer be there. */
  async recheckAll(): Promise<void> {
    if (this.#checking) return;
    this.#checking = true;
    try {
      const byRoom = new Map<string, LiveSocket[]>();
      for (const socket of this.io.of('/').sockets.values()) {
        if (!socket.rooms.has(roomChannel(socket.data.roomId))) continue;
        const list = byRoom.get(socket.data.roomId) ?? [];
        list.push(socket as LiveSocket);
        byRoom.set(socket.data.roomId, list);
      }
      for (const [roomId, sockets] of byRoom) {
        try {
          const decisions = await this.#deps.access.recheck(roomId, [...new Set(sockets.map((s) => s.data.userId))]);
          for (const socket of sockets) {
            const decision = decisions.get(socket.data.userId);
            if (!decision) continue;
            if (decision.grant === 'denied') {
              socket.data.revoked = true;
              socket.emit('access:revoked', { reason: decision.reason, ...(decision.code ? { code: decision.code } : {}) });
              socket.disconnect(true);
            } else if (decision.grant !== socket.data.grant) {
              this.#setGrant(socket, decision.grant, decision.reason);
            }
          }
        } catch (error) {
          if (error instanceof RoomNotFoundError) {
            // The room was removed (with its course) during the class: nobody may stay.
            this.#deps.logger.info({ room: roomId }, 'the room was removed; its participants are told and disconnected');
            for (const socket of sockets) {
              socket.data.revoked = true;
              socket.emit('access:revoked', { reason: 'this live class was removed from the course' });
              socket.disconnect(true);
            }
            continue;
          }
          this.#deps.logger.error({ err: error, room: roomId }, 're-checking a room failed; will try again');
        }
      }
    } finally {
      this.#checking = false;
    }
  }

  /** Applies a new grant to the user's sockets on this node, and (with Redis) asks the other nodes to do the same. */
  #grantChanged(roomId: string, userId: string, decision: Decision, everywhere = true): void {
    if (everywhere && this.#redis) (this.io as unknown as Server).serverSideEmit(GRANT_CHANGED, roomId, userId, decision);
    for (const s of this.io.of('/').sockets.values() as Iterable<LiveSocket>) {
      if (s.data.roomId === roomId && s.data.userId === userId) this.#setGrant(s, decision.grant, decision.reason);
    }
  }

  #setGrant(socket: LiveSocket, grant: Grant, reason: string): void {
    const could = socket.data.grant === 'host' || socket.data.grant === 'speaker';
    socket.data.grant = grant;
    this.interaction.grantChanged(socket);
    socket.emit('grant:changed', { grant, reason });
    if (could && grant !== 'host' && grant !== 'speaker') {
      this.media.stopPublishing(socket.data.roomId, socket.data.userId).catch((error: unknown) => this.#deps.logger.warn({ err: error, room: socket.data.roomId, user: socket.data.userId }, 'stopping a speaker\'s media failed'));
    }
  }

  /** Rooms this node serves: its participants', its media's, its recordings'. */
  #servedRooms(): string[] {
    const sockets = [...this.io.of('/').sockets.values()].map((s) => s.data.roomId);
    return [...sockets, ...this.mediaServer.roomIds(), ...(this.#deps.recordings?.()?.runningRooms() ?? [])];
  }

  async #sockets(roomId: string): Promise<LiveSocket[]> {
    // A room's sockets are all on the node that serves it (placement.ts): no need to ask Redis.
    return (await this.io.local.in(roomChannel(roomId)).fetchSockets()) as unknown as LiveSocket[];
  }

  async #count(roomId: string): Promise<number> {
    return new Set((await this.#sockets(roomId)).map((s) => s.data.userId)).size;
  }

  #broadcastCount(roomId: string): void {
    this.#count(roomId).then((count) => this.io.to(roomChannel(roomId)).emit('participants:count', { count }), () => {});
  }

  /** Safe to call twice (the service does): a second call waits for the first. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** Before this node goes away (SIGTERM): browsers are sent to reconnect elsewhere (placement.ts). */
  drain(spreadMs?: number): Promise<number> {
    return drain(this.io as unknown as Server, this.placement, this.#deps.logger, spreadMs);
  }

  async #close(): Promise<void> {
    clearInterval(this.#timer);
    await this.placement.close();
    this.io.disconnectSockets(true);
    await this.media.close();
    // The HTTP server is the service's to close.
    this.io.engine.close();
    await this.#redis?.close();
  }
}

// The main thread's side of subscriber workers (MediaServerOptions.workers > 0): it starts the
// worker threads (worker-link.ts) and replaces any that stops, spreads subscribers over them,
// routes their signaling (requests with ids over each worker's port), and posts each received RTP
// packet once to each worker that has a subscriber of its track, batched per turn of the event
// loop. Per room, RemoteSubscribers stands in for the room's own subscriber connections (room.ts
// asks it instead).
import type { RtpPacket } from 'werift';
import { FRESH_MS } from './bandwidth.ts';
import { MediaError } from './errors.ts';
import type { PublishedTrack } from './peers.ts';
import type { AnswerResult, FromWorker, RelayTrack, SubscribeResult, WorkerSetup } from './relay-protocol.ts';
import type { Counters, MediaServerEvents, SubscribedTrackInfo, TrackKind, WorkerStats } from './types.ts';
import { WorkerLink } from './worker-link.ts';

/** How the pool reaches the server and its rooms. */
export interface PoolHost {
  readonly counters: Counters;
  emit<E extends keyof MediaServerEvents>(event: E, ...args: MediaServerEvents[E]): boolean;
  finishSdp(sdp: string): string;
  requestKeyframe(roomId: string, trackId: string): void;
}

/** Where one published track's packets go: the workers with a subscriber of it (they said so: 'wants'). */
interface Route {
  readonly num: number;
  readonly trackId: string;
  readonly kind: TrackKind;
  readonly links: Set<WorkerLink>;
}

/** A worker that ran this long before stopping is restarted at once; one that stops sooner again and again waits longer each time. */
const STABLE_MS = 10_000;
const MAX_RESTART_DELAY_MS = 30_000;

export class WorkerPool {
  /** One per worker slot: the running thread, or the stopped one until its replacement starts. */
  private readonly links: WorkerLink[] = [];
  private readonly rooms = new Map<string, RemoteSubscribers>();
  private readonly routes = new WeakMap<PublishedTrack, Route>();
  private readonly routesByNum = new Map<number, Route>();
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  private nextTrack = 1;
  private closing = false;
  readonly host: PoolHost;

  constructor(setups: WorkerSetup[], host: PoolHost) {
    this.host = host;
    for (const setup of setups) this.start(setup, 0);
  }

  /** Subscriber connections in all workers (from subscribe() until unsubscribe() or a failure closes one). */
  get peers(): number {
    let peers = 0;
    for (const room of this.rooms.values()) peers += room.size;
    return peers;
  }

  room(roomId: string): RemoteSubscribers {
    let room = this.rooms.get(roomId);
    if (!room) this.rooms.set(roomId, (room = new RemoteSubscribers(roomId, this)));
    return room;
  }

  /** A room's subscribers again after the pool forgot them (everyone had left, the publisher stayed). */
  adopt(room: RemoteSubscribers) {
    if (this.rooms.get(room.id) !== room) this.rooms.set(room.id, room);
  }

  forget(room: RemoteSubscribers) {
    if (this.rooms.get(room.id) === room && room.size === 0) this.rooms.delete(room.id);
  }

  /** The running worker with the fewest subscribers. */
  pick(): WorkerLink {
    const running = this.links.filter((link) => !link.dead);
    if (running.length === 0) throw new MediaError('closed', 'No media worker is running: receiving connections cannot be made.');
    return running.reduce((best, link) => (link.load < best.load ? link : best));
  }

  /**
   * The track's number (what its packets carry to the workers) and the workers it goes to. From
   * then on the track hands each packet to relay() with its route.
   */
  route(track: PublishedTrack): Route {
    const known = this.routes.get(track);
    if (known) return known;
    const route: Route = { num: this.nextTrack++, trackId: track.info.id, kind: track.info.kind, links: new Set() };
    this.routes.set(track, route);
    this.routesByNum.set(route.num, route);
    track.relay = (packet) => this.relay(route, packet);
    return route;
  }

  /** The track left its room: no worker is sent its packets any more. */
  dropRoute(num: number) {
    this.routesByNum.get(num)?.links.clear();
    this.routesByNum.delete(num);
  }

  /**
   * The hot path on the main thread: the packet queued once for each worker with a subscriber of
   * its track. A dropped route (dropRoute) has no links left, and a stopped worker is removed from
   * every route (onExit), so nothing goes to either.
   */
  private relay(route: Route, packet: RtpPacket) {
    if (route.links.size === 0) return;
    const { header, payload } = packet;
    for (const link of route.links) {
      link.batch.add(route.num, header.sequenceNumber, header.timestamp, header.marker, header.payloadType, header.ssrc, payload);
      link.relayed[route.kind]++;
      link.scheduleFlush();
    }
  }

  /** Per worker slot: its thread, its subscribers, the tracks it is sent and what it was sent. */
  stats(): WorkerStats[] {
    const tracks = new Map<WorkerLink, string[]>();
    for (const route of this.routesByNum.values()) {
      for (const link of route.links) tracks.set(link, [...(tracks.get(link) ?? []), route.trackId]);
    }
    return this.links.map((link) => ({
      worker: link.setup.index,
      threadId: link.threadId,
      running: !link.dead,
      subscribers: link.load,
      tracks: tracks.get(link) ?? [],
      packetsRelayed: { ...link.relayed },
    }));
  }

  async close() {
    this.closing = true;
    for (const timer of this.restartTimers) clearTimeout(timer);
    this.restartTimers.clear();
    await Promise.all(this.links.map((link) => link.worker.terminate()));
  }

  /** A thread in the setup's slot (`setup.index`), in place of the one that stopped there. */
  private start(setup: WorkerSetup, quickExits: number) {
    const link: WorkerLink = new WorkerLink(
      setup,
      quickExits,
      (event) => this.onEvent(link, event),
      (exitCode, error) => this.onExit(link, exitCode, error),
    );
    this.links[setup.index] = link;
  }

  /**
   * A worker's thread stopped (crashed, threw, was terminated): nothing is routed to it any more,
   * a fresh thread takes its slot (at once, unless it keeps stopping soon after starting), then
   * its subscribers are told their connection failed (their pages make a fresh one, which goes to
   * a running worker), then 'worker-exit' is emitted.
   */
  private onExit(link: WorkerLink, exitCode: number, error: string | undefined) {
    for (const route of this.routesByNum.values()) route.links.delete(link);
    if (this.closing) return;
    const quickExits = Date.now() - link.startedAt < STABLE_MS ? link.quickExits + 1 : 0;
    const restartInMs = quickExits <= 1 ? 0 : Math.min(MAX_RESTART_DELAY_MS, 1000 * 2 ** (quickExits - 2));
    if (restartInMs === 0) this.start(link.setup, quickExits);
    else {
      const timer = setTimeout(() => {
        this.restartTimers.delete(timer);
        if (!this.closing) this.start(link.setup, quickExits);
      }, restartInMs);
      timer.unref();
      this.restartTimers.add(timer);
    }
    const subscribers = link.load;
    for (const room of [...this.rooms.values()]) room.linkLost(link);
    this.host.emit('worker-exit', { worker: link.setup.index, threadId: link.threadId, exitCode, ...(error ? { error } : {}), subscribers, restartInMs });
  }

  private onEvent(link: WorkerLink, event: FromWorker) {
    switch (event.kind) {
      case 'counters': {
        const counters = this.host.counters;
        counters.packetsForwarded += event.packetsForwarded;
        counters.bytesForwarded += event.bytesForwarded;
        counters.packetsLostBySubscribers += event.packetsLostBySubscribers;
        return;
      }
      case 'wants': {
        const route = this.routesByNum.get(event.num);
        if (route && event.on) route.links.add(link);
        else route?.links.delete(link);
        return;
      }
      case 'response':
        return;
      default:
        this.rooms.get(event.roomId)?.onEvent(event);
    }
  }
}

interface RemoteUser {
  link: WorkerLink;
  tracks: SubscribedTrackInfo[];
  estimate?: { bps: number; at: number };
}

/** One room's subscribers, served by workers. */
export class RemoteSubscribers {
  readonly id: string;
  private readonly pool: WorkerPool;
  private readonly users = new Map<string, RemoteUser>();
  /** The workers serving someone in this room, and the room's tracks as last sent. */
  private readonly links = new Set<WorkerLink>();
  private relays: RelayTrack[] = [];

  constructor(id: string, pool: WorkerPool) {
    this.id = id;
    this.pool = pool;
  }

  get size(): number {
    return this.users.size;
  }

  has(userId: string): boolean {
    return this.users.has(userId);
  }

  subscribedTracks(userId: string): SubscribedTrackInfo[] {
    return (this.users.get(userId)?.tracks ?? []).map((track) => ({ ...track }));
  }

  counts(): { subscribers: number; forwards: number } {
    // A track gone from the room is no longer forwarded, though the worker's renegotiation may still be on its way.
    const live = new Set(this.relays.map((relay) => relay.info.id));
    let forwards = 0;
    for (const user of this.users.values()) forwards += user.tracks.filter((track) => live.has(track.id)).length;
    return { subscribers: this.users.size, forwards };
  }

  async subscribe(userId: string): Promise<string> {
    let user = this.users.get(userId);
    if (!user) {
      user = { link: this.pool.pick(), tracks: [] };
      user.link.load++;
      this.users.set(userId, user);
      this.pool.adopt(this);
      if (!this.links.has(user.link)) {
        this.links.add(user.link);
        user.link.worker.postMessage({ kind: 'tracks', roomId: this.id, tracks: this.relays });
      }
    }
    const result = await user.link.request<SubscribeResult>({ op: 'subscribe', roomId: this.id, userId });
    user.tracks = result.tracks;
    return this.pool.host.finishSdp(result.sdp);
  }

  userIds(): string[] {
    return [...this.users.keys()];
  }

  async acceptAnswer(userId: string, sdp: string): Promise<void> {
    const user = this.users.get(userId);
    if (!user) throw new MediaError('not-found', `User "${userId}" has not subscribed in room "${this.id}": call subscribe() first.`);
    const result = await user.link.request<AnswerResult>({ op: 'answer', roomId: this.id, userId, sdp });
    user.tracks = result.tracks;
    for (const { trackId, codec } of result.refused) this.pool.host.emit('codec-refused', { roomId: this.id, userId, trackId, codec });
  }

  async unsubscribe(userId: string): Promise<void> {
    const user = this.users.get(userId);
    if (!user) return;
    this.removeUser(userId, user);
    await user.link.request({ op: 'close', roomId: this.id, userId }).catch(() => {});
  }

  /** The room's published tracks changed: every worker serving the room hears of it (and renegotiates). */
  tracksChanged(tracks: PublishedTrack[]) {
    const before = this.relays;
    this.relays = tracks.map((track) => ({ num: this.pool.route(track).num, publisherId: track.info.userId, info: { ...track.info } }));
    const kept = new Set(this.relays.map((relay) => relay.num));
    for (const relay of before) if (!kept.has(relay.num)) this.pool.dropRoute(relay.num);
    for (const link of this.links) link.worker.postMessage({ kind: 'tracks', roomId: this.id, tracks: this.relays });
  }

  /** The lowest fresh REMB (bandwidth.ts FRESH_MS) among the subscribers who receive this publisher's tracks. */
  lowestEstimate(publisherId: string, now: number): number {
    let lowest = Number.POSITIVE_INFINITY;
    for (const [userId, user] of this.users) {
      if (userId === publisherId || !user.estimate || now - user.estimate.at > FRESH_MS) continue;
      if (user.tracks.some((track) => track.userId === publisherId && track.kind === 'video')) lowest = Math.min(lowest, user.estimate.bps);
    }
    return lowest;
  }

  onEvent(event: Exclude<FromWorker, { kind: 'response' | 'counters' | 'wants' }>) {
    const host = this.pool.host;
    const user = 'userId' in event ? this.users.get(event.userId) : undefined;
    switch (event.kind) {
      case 'keyframe':
        return host.requestKeyframe(this.id, event.trackId);
      case 'estimate':
        if (user) user.estimate = { bps: event.bps, at: Date.now() };
        return;
      case 'state':
        if (user) host.emit('connection-state', { roomId: this.id, userId: event.userId, role: 'subscriber', state: event.state });
        return;
      case 'renegotiate':
        if (!user) return;
        user.tracks = event.tracks;
        host.emit('renegotiate', { roomId: this.id, userId: event.userId, offerSdp: host.finishSdp(event.offerSdp), tracks: event.tracks.map((t) => ({ ...t })) });
        return;
      case 'failure':
        if (!user) return;
        if (event.closed) this.removeUser(event.userId, user);
        host.emit('failure', { roomId: this.id, userId: event.userId, role: 'subscriber', error: new MediaError(event.code, event.message) });
        return;
    }
  }

  /** A worker stopped (it crashed): its subscribers' connections are gone; their pages are told they failed (and reconnect). */
  linkLost(link: WorkerLink) {
    for (const [userId, user] of [...this.users]) {
      if (user.link !== link) continue;
      this.removeUser(userId, user);
      const host = this.pool.host;
      host.emit('connection-state', { roomId: this.id, userId, role: 'subscriber', state: 'failed' });
      host.emit('failure', { roomId: this.id, userId, role: 'subscriber', error: new MediaError('closed', `The media worker serving user "${userId}"'s receiving connection stopped.`) });
    }
  }

  private removeUser(userId: string, user: RemoteUser) {
    if (this.users.get(userId) !== user) return;
    this.users.delete(userId);
    user.link.load--;
    // The worker forgets the room with its last subscriber there; it is sent the tracks again on the next.
    if (![...this.users.values()].some((other) => other.link === user.link)) this.links.delete(user.link);
    this.pool.forget(this);
  }
}

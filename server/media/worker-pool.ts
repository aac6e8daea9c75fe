// The main thread's side of subscriber workers (MediaServerOptions.workers > 0): it starts the
// worker threads, spreads subscribers over them, routes their signaling (requests with ids over
// each worker's port), and posts each received RTP packet once per worker that serves the room,
// batched per turn of the event loop. Per room, RemoteSubscribers stands in for the room's own
// subscriber connections (room.ts asks it instead).
import { Worker } from 'node:worker_threads';
import type { RtpPacket } from 'werift';
import { MediaError } from './errors.ts';
import type { PublishedTrack } from './peers.ts';
import { PacketBatch, type AnswerResult, type FromWorker, type RelayTrack, type SubscribeResult, type WorkerRequest, type WorkerSetup } from './relay-protocol.ts';
import type { Counters, MediaServerEvents, SubscribedTrackInfo } from './types.ts';

/** How the pool reaches the server and its rooms. */
export interface PoolHost {
  readonly counters: Counters;
  emit<E extends keyof MediaServerEvents>(event: E, ...args: MediaServerEvents[E]): boolean;
  finishSdp(sdp: string): string;
  requestKeyframe(roomId: string, trackId: string): void;
}

class WorkerLink {
  readonly worker: Worker;
  readonly batch = new PacketBatch();
  private flushing = false;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  /** Subscribers served, all rooms. */
  load = 0;
  /** The thread has stopped (crashed, or the pool closed). */
  dead = false;

  constructor(setup: WorkerSetup, onEvent: (event: FromWorker) => void, onExit: () => void) {
    this.worker = new Worker(new URL('./subscriber-worker.ts', import.meta.url), { workerData: setup });
    this.worker.on('message', (message: FromWorker) => {
      if (message.kind !== 'response') return onEvent(message);
      const waiting = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (!waiting) return;
      if (message.error) waiting.reject(new MediaError(message.error.code, message.error.message));
      else waiting.resolve(message.result);
    });
    this.worker.on('error', (error: Error) => this.failAll(new MediaError('closed', `A media worker failed: ${error.message}`)));
    this.worker.on('exit', () => {
      this.dead = true;
      this.failAll(new MediaError('closed', 'The media worker stopped.'));
      onExit();
    });
  }

  request<T>(request: WorkerRequest): Promise<T> {
    if (this.dead) return Promise.reject(new MediaError('closed', 'The media worker stopped.'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.worker.postMessage({ kind: 'request', id, request });
    });
  }

  /** Sends the queued packets at the end of this turn of the event loop, in one message. */
  scheduleFlush() {
    if (this.flushing) return;
    this.flushing = true;
    setImmediate(() => {
      this.flushing = false;
      if (this.batch.size === 0 || this.dead) return;
      const { message, transfer } = this.batch.take();
      this.worker.postMessage(message, transfer);
    });
  }

  private failAll(error: MediaError) {
    for (const waiting of this.pending.values()) waiting.reject(error);
    this.pending.clear();
  }
}

export class WorkerPool {
  private readonly links: WorkerLink[] = [];
  private readonly rooms = new Map<string, RemoteSubscribers>();
  private readonly trackNums = new WeakMap<PublishedTrack, number>();
  private nextTrack = 1;
  private closing = false;
  readonly host: PoolHost;

  constructor(setups: WorkerSetup[], host: PoolHost) {
    this.host = host;
    for (const setup of setups) {
      const link: WorkerLink = new WorkerLink(
        setup,
        (event) => this.onEvent(link, event),
        () => {
          if (!this.closing) for (const room of [...this.rooms.values()]) room.linkLost(link);
        },
      );
      this.links.push(link);
    }
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

  trackNum(track: PublishedTrack): number {
    let num = this.trackNums.get(track);
    if (num === undefined) this.trackNums.set(track, (num = this.nextTrack++));
    return num;
  }

  async close() {
    this.closing = true;
    await Promise.all(this.links.map((link) => link.worker.terminate()));
  }

  private onEvent(link: WorkerLink, event: FromWorker) {
    if (event.kind === 'counters') {
      const counters = this.host.counters;
      counters.packetsForwarded += event.packetsForwarded;
      counters.bytesForwarded += event.bytesForwarded;
      counters.packetsLostBySubscribers += event.packetsLostBySubscribers;
      return;
    }
    if (event.kind === 'response') return;
    this.rooms.get(event.roomId)?.onEvent(event);
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
    this.relays = tracks.map((track) => ({ num: this.pool.trackNum(track), publisherId: track.info.userId, info: { ...track.info } }));
    for (const link of this.links) link.worker.postMessage({ kind: 'tracks', roomId: this.id, tracks: this.relays });
  }

  /** The lowest fresh REMB among the subscribers who receive this publisher's tracks. */
  lowestEstimate(publisherId: string, now: number, freshMs: number): number {
    let lowest = Number.POSITIVE_INFINITY;
    for (const [userId, user] of this.users) {
      if (userId === publisherId || !user.estimate || now - user.estimate.at > freshMs) continue;
      if (user.tracks.some((track) => track.userId === publisherId && track.kind === 'video')) lowest = Math.min(lowest, user.estimate.bps);
    }
    return lowest;
  }

  /** The hot path on the main thread: one copy of the packet queued for each worker serving the room. */
  relay(track: PublishedTrack, packet: RtpPacket) {
    if (this.links.size === 0) return;
    const num = this.pool.trackNum(track);
    const { header, payload } = packet;
    for (const link of this.links) {
      link.batch.add(num, header.sequenceNumber, header.timestamp, header.marker, header.payloadType, header.ssrc, payload);
      link.scheduleFlush();
    }
  }

  onEvent(event: Exclude<FromWorker, { kind: 'response' | 'counters' }>) {
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

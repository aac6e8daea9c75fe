// The main thread's side of subscriber workers (MediaServerOptions.workers > 0): it starts the
// worker threads (worker-link.ts) and replaces any that stops, spreads subscribers over them,
// routes the workers' reports to each room's RemoteSubscribers (remote-subscribers.ts, the proxy a
// room talks to), and posts each received RTP packet once to each worker that has a subscriber of
// its track, batched per turn of the event loop.
import type { RtpPacket } from 'werift';
import { MediaError } from './errors.ts';
import type { PublishedTrack } from './peers.ts';
import type { FromWorker, WorkerSetup } from './relay-protocol.ts';
import { RemoteSubscribers, type SubscriberPool } from './remote-subscribers.ts';
import type { SubscriberReports } from './subscribers.ts';
import type { Counters, TrackKind, WorkerExitEvent, WorkerStats } from './types.ts';
import { WorkerLink } from './worker-link.ts';

/** How the pool reaches the server. */
export interface PoolHost {
  readonly counters: Counters;
  /** A worker thread stopped (the server emits 'worker-exit'). */
  workerExit(event: WorkerExitEvent): void;
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

export class WorkerPool implements SubscriberPool {
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

  /** A room's subscribers, served by the workers; the pool routes the workers' reports to it while it has any. */
  subscribers(roomId: string, reports: SubscriberReports): RemoteSubscribers {
    return new RemoteSubscribers(roomId, this, reports);
  }

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
   * The track's number (what its packets carry to the workers), with a route: the workers it goes
   * to. From then on the track hands each packet to relay() with its route.
   */
  trackNumber(track: PublishedTrack): number {
    const known = this.routes.get(track);
    if (known) return known.num;
    const route: Route = { num: this.nextTrack++, trackId: track.info.id, kind: track.info.kind, links: new Set() };
    this.routes.set(track, route);
    this.routesByNum.set(route.num, route);
    track.relay = (packet) => this.relay(route, packet);
    return route.num;
  }

  /** The track left its room: no worker is sent its packets any more. */
  dropTrack(num: number) {
    this.routesByNum.get(num)?.links.clear();
    this.routesByNum.delete(num);
  }

  /**
   * The hot path on the main thread: the packet queued once for each worker with a subscriber of
   * its track. A dropped route (dropTrack) has no links left, and a stopped worker is removed from
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

  /** Stops every thread (and any restart waiting); safe to call twice. */
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
    this.host.workerExit({ worker: link.setup.index, threadId: link.threadId, exitCode, ...(error ? { error } : {}), subscribers, rooms: [], restartInMs });
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

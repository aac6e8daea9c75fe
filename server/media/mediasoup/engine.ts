// The mediasoup engine: one C++ worker process per core (MediaServerOptions.workers), a router
// per room on the worker with the fewest connections, WebRtcTransports for the browsers and
// plain RTP consumers for the recorders. A worker that dies is replaced; its rooms' participants
// are told their connections failed, and they connect again on a running worker.
import { EventEmitter } from 'node:events';
import type { Router, WebRtcTransportOptions, Worker } from 'mediasoup/types';
import type { EngineName, MediaEngine } from '../engine.ts';
import { describeCause, MediaError } from '../errors.ts';
import { Taps, type MediaTap, type TapTarget } from '../tap.ts';
import { sumCounts, VIDEO_CODECS, type MediaServerEvents, type MediaServerOptions, type MediaStats, type VideoCodec } from '../types.ts';
import { OneAtATime } from './one-at-a-time.ts';
import { WorkerCounters } from './counters.ts';
import { listenInfos } from './listen.ts';
import { routerCodecs } from './sdp.ts';
import { SoupRoom, type RoomHost } from './room.ts';

type Mediasoup = typeof import('mediasoup');

/** One worker slot: the running worker (or none while it restarts) and the rooms on it. */
interface Slot {
  index: number;
  worker: Worker | undefined;
  /** The routers on this worker, and the room each serves (a room's home router, or one serving some of its viewers). */
  routers: Map<Router, SoupRoom>;
  /** When its workers last started, to slow down a worker that keeps dying. */
  starts: number[];
  restartTimer?: NodeJS.Timeout;
}

/** One mediasoup worker slot (MediasoupEngine.workerStats()). */
export interface SoupWorkerStats {
  worker: number;
  pid: number | undefined;
  running: boolean;
  /** Routers on it: a room's home, or one serving some of a room's viewers. */
  routers: number;
  /** WebRTC connections (sending and receiving) on it. */
  peers: number;
  /** CPU time the worker process has used, in ms (user + system). */
  cpuMs: number;
}

/** Loads mediasoup and starts its workers; throws if the package or its worker cannot run here. */
export async function loadMediasoup(): Promise<Mediasoup> {
  return import('mediasoup');
}

export class MediasoupEngine extends EventEmitter<MediaServerEvents> implements MediaEngine {
  readonly engine: EngineName = 'mediasoup';
  readonly simulcast = true;
  readonly iceRestart = true;
  readonly videoCodecs: readonly VideoCodec[];
  readonly #mediasoup: Mediasoup;
  readonly #options: MediaServerOptions;
  readonly #slots: Slot[];
  readonly #rooms = new Map<string, SoupRoom>();
  readonly #opening = new OneAtATime<string, SoupRoom>();
  readonly #counters = new WorkerCounters();
  readonly #taps = new Taps();
  readonly #host: RoomHost;
  #closing: Promise<void> | undefined;
  /** Calls waiting for a worker to run (every worker was down, one is being replaced). */
  #waitingForWorker: Array<() => void> = [];

  private constructor(mediasoup: Mediasoup, options: MediaServerOptions, workers: number) {
    super();
    this.#mediasoup = mediasoup;
    this.#options = options;
    const video = options.videoCodecs ?? [...VIDEO_CODECS];
    if (video.length === 0 || video.some((codec) => !VIDEO_CODECS.includes(codec)) || new Set(video).size !== video.length) {
      throw new RangeError(`videoCodecs must list some of ${VIDEO_CODECS.join(', ')}, each once (got ${JSON.stringify(video)}).`);
    }
    this.videoCodecs = video;
    this.#slots = Array.from({ length: workers }, (_, index) => ({ index, worker: undefined, routers: new Map(), starts: [] }));
    const engine = this;
    this.#host = {
      counters: this.#counters.values,
      keyframeIntervalMs: options.keyframeIntervalMs ?? 500,
      connectTimeoutMs: options.connectTimeoutMs ?? 20_000,
      videoCodecs: this.videoCodecs,
      maxIncomingBitrate: options.videoBitrate?.max ?? 2_500_000,
      // Read per transport: an interface that came up since start-up (a VPN, a container's link) counts.
      transportOptions: (): WebRtcTransportOptions => ({ listenInfos: listenInfos(options), enableUdp: true, enableTcp: false, preferUdp: true, initialAvailableOutgoingBitrate: 1_000_000 }),
      emit: this.emit.bind(this),
      // mediasoup's candidates already carry the announced address; loopback extras are listen infos too.
      finishSdp: (sdp) => sdp,
      roomEmpty: (room) => {
        if (engine.#rooms.get(room.id) === room) engine.#rooms.delete(room.id);
        for (const slot of engine.#slots) for (const [router, owner] of slot.routers) if (owner === room) slot.routers.delete(router);
      },
      subscribersPerRouter: Math.max(1, Math.ceil((options.maxSubscribers ?? 500) / workers)),
      extraRouter: async (room, used) => {
        const slot = engine.#leastBusy(new Set(used));
        if (!slot?.worker) return undefined;
        const router = await slot.worker.createRouter({ mediaCodecs: routerCodecs(engine.videoCodecs) });
        if (engine.#closing || room.isClosed) {
          router.close();
          return undefined;
        }
        slot.routers.set(router, room);
        return router;
      },
      routerClosed: (_room, router) => {
        for (const slot of engine.#slots) slot.routers.delete(router);
      },
    };
  }

  /** Starts `workers` mediasoup workers (at least one); rejects if none can start. */
  static async start(options: MediaServerOptions = {}): Promise<MediasoupEngine> {
    const range = options.portRange;
    if (range && !(Number.isInteger(range[0]) && Number.isInteger(range[1]) && range[0] > 0 && range[0] < range[1] && range[1] <= 65535)) {
      throw new RangeError(`portRange must be two different ports, lowest first (got ${JSON.stringify(range)}).`);
    }
    const workers = Math.max(1, options.workers ?? 1);
    if (!(Number.isInteger(workers) && workers <= 64)) throw new RangeError(`workers must be a whole number from 1 to 64 (got ${workers}).`);
    const mediasoup = await loadMediasoup();
    const engine = new MediasoupEngine(mediasoup, options, workers);
    try {
      for (const slot of engine.#slots) await engine.#startWorker(slot);
    } catch (error) {
      await engine.close();
      throw error;
    }
    return engine;
  }

  async #startWorker(slot: Slot): Promise<void> {
    const worker = await this.#mediasoup.createWorker({ logLevel: 'error' });
    if (this.#closing) {
      worker.close();
      return;
    }
    slot.worker = worker;
    slot.starts = [...slot.starts.filter((at) => at > Date.now() - 60_000), Date.now()];
    worker.on('died', (error) => this.#workerDied(slot, worker, error));
    for (const wake of this.#waitingForWorker.splice(0)) wake();
  }

  #workerDied(slot: Slot, worker: Worker, error: Error): void {
    if (slot.worker !== worker) return;
    slot.worker = undefined;
    const reason = describeCause(error);
    let participants = 0;
    const rooms: string[] = [];
    for (const [router, room] of [...slot.routers]) {
      // A room's recording taps its home router: those rooms are named in the event.
      if (router === room.router) rooms.push(room.id);
      participants += room.workerDied(router, reason);
    }
    slot.routers.clear();
    // A worker that keeps dying right after starting waits longer each time (up to 30 s).
    const restartInMs = this.#closing ? 0 : Math.min(30_000, slot.starts.length > 2 ? 1000 * 2 ** (slot.starts.length - 2) : 0);
    this.emit('worker-exit', { worker: slot.index, threadId: worker.pid, exitCode: -1, error: reason, subscribers: participants, rooms, restartInMs });
    if (!this.#closing) this.#restart(slot, restartInMs);
  }

  /** Starts a replacement worker in the slot after `delayMs`; one that cannot start is tried again every 30 s. */
  #restart(slot: Slot, delayMs: number): void {
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      this.#startWorker(slot).catch((error: unknown) => {
        this.emit('worker-exit', { worker: slot.index, threadId: 0, exitCode: -1, error: `a replacement worker did not start: ${describeCause(error)}`, subscribers: 0, rooms: [], restartInMs: 30_000 });
        if (!this.#closing) this.#restart(slot, 30_000);
      });
    }, delayMs);
    slot.restartTimer.unref();
  }

  /** The room with this id, created (with its router, on the least busy worker) on first use. */
  async #room(roomId: string): Promise<SoupRoom> {
    if (this.#closing) throw new MediaError('closed', 'The media server is closed.');
    const known = this.#rooms.get(roomId);
    if (known && !known.isClosed) return known;
    return this.#opening.run(roomId, async () => {
      let slot = this.#leastBusy();
      if (!slot?.worker) {
        // Every worker is down (the only one died a moment ago): wait a little for its replacement.
        await new Promise<void>((resolve) => {
          this.#waitingForWorker.push(resolve);
          setTimeout(resolve, 10_000).unref();
        });
        if (this.#closing) throw new MediaError('closed', 'The media server is closed.');
        slot = this.#leastBusy();
      }
      if (!slot?.worker) throw new MediaError('closed', 'No media worker is running on this node (one is being restarted): try again in a few seconds.');
      let router: Router;
      try {
        router = await slot.worker.createRouter({ mediaCodecs: routerCodecs(this.videoCodecs) });
      } catch (error) {
        throw new MediaError('closed', `The media worker could not open room "${roomId}": ${describeCause(error)}.`, { cause: error });
      }
      if (this.#closing) {
        router.close();
        throw new MediaError('closed', 'The media server is closed.');
      }
      const room = new SoupRoom(roomId, router, this.#host);
      this.#rooms.set(roomId, room);
      slot.routers.set(router, room);
      return room;
    });
  }

  /** The running worker with the fewest connections, among those without one of `exclude`'s routers. */
  #leastBusy(exclude: ReadonlySet<Router> = new Set()): Slot | undefined {
    let best: Slot | undefined;
    let bestLoad = Infinity;
    for (const slot of this.#slots) {
      if (!slot.worker || slot.worker.died || [...slot.routers.keys()].some((router) => exclude.has(router))) continue;
      let load = 0;
      for (const [router, room] of slot.routers) load += room.connectionsOn(router) + 1;
      if (load < bestLoad) {
        best = slot;
        bestLoad = load;
      }
    }
    return best;
  }

  findRoom(roomId: string): SoupRoom | undefined {
    return this.#rooms.get(roomId);
  }

  roomIds(): string[] {
    return [...this.#rooms.keys()];
  }

  async publish(roomId: string, userId: string, offerSdp: string): Promise<string> {
    const room = await this.#room(roomId);
    try {
      return await room.publish(userId, offerSdp);
    } finally {
      room.closeIfEmpty(); // a refused first offer leaves no router behind
    }
  }

  async subscribe(roomId: string, userId: string, options: { iceRestart?: boolean } = {}): Promise<string> {
    const room = await this.#room(roomId);
    try {
      return await room.subscribe(userId, options.iceRestart === true);
    } finally {
      room.closeIfEmpty();
    }
  }

  async acceptAnswer(roomId: string, userId: string, answerSdp: string): Promise<void> {
    const room = this.#rooms.get(roomId);
    if (!room) throw new MediaError('not-found', `There is no media room "${roomId}".`);
    await room.acceptAnswer(userId, answerSdp);
  }

  async unpublish(roomId: string, userId: string): Promise<void> {
    await this.#rooms.get(roomId)?.unpublish(userId);
  }

  async unsubscribe(roomId: string, userId: string): Promise<void> {
    await this.#rooms.get(roomId)?.unsubscribe(userId);
  }

  async leave(roomId: string, userId: string): Promise<void> {
    await this.#rooms.get(roomId)?.leave(userId);
  }

  tap(roomId: string, target: TapTarget): MediaTap {
    if (this.#closing) throw new MediaError('closed', 'The media server is closed.');
    return this.#taps.open(target, (trackId) => this.#rooms.get(roomId)?.findTrack(trackId));
  }

  stats(): MediaStats {
    let peers = 0;
    for (const room of this.#rooms.values()) peers += room.connectionCount;
    return { rooms: this.#rooms.size, peers, ...sumCounts(this.#rooms.values()), ...this.#counters.values };
  }

  /** stats() with the packet counters read from the workers first. */
  async readStats(): Promise<MediaStats> {
    await this.#counters.read([...this.#rooms.values()].flatMap((room) => [...room.mediaObjects()]));
    return this.stats();
  }

  /** Each worker slot: its process, its rooms and connections, and the CPU it has used. */
  async workerStats(): Promise<SoupWorkerStats[]> {
    return Promise.all(
      this.#slots.map(async (slot) => {
        const usage = slot.worker && !slot.worker.died ? await slot.worker.getResourceUsage().catch(() => undefined) : undefined;
        let peers = 0;
        for (const [router, room] of slot.routers) peers += room.connectionsOn(router);
        return { worker: slot.index, pid: slot.worker?.pid, running: !!slot.worker && !slot.worker.died, routers: slot.routers.size, peers, cpuMs: usage ? usage.ru_utime + usage.ru_stime : 0 };
      }),
    );
  }

  /**
   * What the workers hold, read from the workers themselves (for leak checks): routers, and the
   * objects that answer requests (each router, transport, producer and consumer registers one).
   */
  async workerResources(): Promise<{ routers: number; objects: number }> {
    let routers = 0;
    let objects = 0;
    for (const slot of this.#slots) {
      if (!slot.worker || slot.worker.died) continue;
      const dump = await slot.worker.dump();
      routers += dump.routerIds.length;
      objects += dump.channelMessageHandlers.channelRequestHandlers.length;
    }
    return { routers, objects };
  }

  /** The worker processes' ids (tests stop one to see a replacement take over). */
  workerPids(): number[] {
    return this.#slots.flatMap((slot) => (slot.worker && !slot.worker.died ? [slot.worker.pid] : []));
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    for (const wake of this.#waitingForWorker.splice(0)) wake();
    this.#taps.closeAll();
    for (const room of [...this.#rooms.values()]) await room.close().catch(() => {});
    this.#rooms.clear();
    // Closed means gone: each worker process has exited (or 2 s have passed) when this resolves.
    const exits: Array<Promise<void>> = [];
    for (const slot of this.#slots) {
      clearTimeout(slot.restartTimer);
      const worker = slot.worker;
      slot.worker = undefined;
      if (!worker || worker.closed) continue;
      exits.push(
        new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 2000);
          worker.once('subprocessclose', () => {
            clearTimeout(timer);
            resolve();
          });
        }),
      );
      worker.close();
    }
    await Promise.all(exits);
  }
}

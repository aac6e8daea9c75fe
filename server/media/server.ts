// The werift engine (the fallback that needs no native code; engine.ts): the SFU core: rooms of participants, each with at most one publishing RTCPeerConnection (the
// browser offers, we answer) and one subscribing RTCPeerConnection (we offer, the browser answers).
// RTP from each published track is copied, unchanged but for its header extensions, to one sender
// per subscriber; nothing is decoded. Every werift call in the project lives in this folder.
import { EventEmitter } from 'node:events';
import type { RTCPeerConnectionConfig } from 'werift';
import type { EngineName, MediaEngine } from './engine.ts';
import { MediaError } from './errors.ts';
import { LocalSubscribers } from './local-subscribers.ts';
import { peerConfig, type Peer } from './peers.ts';
import { MediaRoom, type RoomHost } from './room.ts';
import { announceAddress } from './sdp.ts';
import { Taps, type MediaTap, type TapTarget } from './tap.ts';
import { WorkerPool } from './worker-pool.ts';
import { newCounters, sumCounts, VIDEO_CODECS, type Counters, type MediaServerEvents, type MediaServerOptions, type MediaStats, type VideoCodec, type WorkerStats } from './types.ts';

export class WeriftEngine extends EventEmitter<MediaServerEvents> implements MediaEngine {
  readonly engine: EngineName = 'werift';
  /** werift forwards one stream per track: no simulcast. */
  readonly simulcast = false;
  /** werift cannot restart ICE: a connection that lost its path is replaced. */
  readonly iceRestart = false;
  private readonly rooms = new Map<string, MediaRoom>();
  private readonly peers = new Set<Peer>();
  private readonly counters: Counters = newCounters();
  private readonly options: MediaServerOptions;
  private readonly host: RoomHost;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly bitrateTimer: NodeJS.Timeout;
  private readonly taps = new Taps();
  /** Subscriber worker threads (options.workers > 0), and the main thread's share of the port range. */
  private readonly pool: WorkerPool | undefined;
  private readonly mainPorts: [number, number] | undefined;
  /** The video codecs taken, most wanted first: a room with no video yet will most likely get the first. */
  readonly videoCodecs: readonly VideoCodec[];

  constructor(options: MediaServerOptions = {}) {
    super();
    const range = options.portRange;
    if (range && !(Number.isInteger(range[0]) && Number.isInteger(range[1]) && range[0] > 0 && range[0] < range[1] && range[1] <= 65535)) {
      throw new RangeError(`portRange must be two different ports, lowest first (got ${JSON.stringify(range)}).`);
    }
    this.options = options;
    const video = options.videoCodecs ?? [...VIDEO_CODECS];
    if (video.length === 0 || video.some((codec) => !VIDEO_CODECS.includes(codec)) || new Set(video).size !== video.length) {
      throw new RangeError(`videoCodecs must list some of ${VIDEO_CODECS.join(', ')}, each once (got ${JSON.stringify(video)}).`);
    }
    this.videoCodecs = video;
    const workers = options.workers ?? 0;
    if (!(Number.isInteger(workers) && workers >= 0 && workers <= 64)) throw new RangeError(`workers must be a whole number from 0 to 64 (got ${workers}).`);
    const ranges = range && workers > 0 ? splitPorts(range, workers + 1) : undefined;
    this.mainPorts = ranges ? ranges[0] : range;
    const server = this;
    const host: RoomHost = {
      counters: this.counters,
      keyframeIntervalMs: options.keyframeIntervalMs ?? 500,
      connectTimeoutMs: options.connectTimeoutMs ?? 20_000,
      videoCodecs: this.videoCodecs,
      peerConfig: () => this.peerConfig(),
      peerOpened: (peer) => {
        server.peers.add(peer);
      },
      peerClosed: async (peer) => {
        server.peers.delete(peer);
        await peer.close();
      },
      finishSdp: (sdp) => announceAddress(sdp, options.announcedIp),
      roomEmpty: (room) => {
        if (server.rooms.get(room.id) === room) server.rooms.delete(room.id);
      },
      emit: this.emit.bind(this),
      subscribers: (roomId, reports) => server.pool?.subscribers(roomId, reports) ?? new LocalSubscribers(roomId, host, reports),
      roomActive: (room) => {
        if (server.closed) throw new MediaError('closed', 'The media server is closed.');
        const known = server.rooms.get(room.id);
        if (!known) server.rooms.set(room.id, room);
        else if (known !== room) throw new MediaError('closed', `This handle on room "${room.id}" is stale (the room emptied and was made again): use MediaServer.room("${room.id}").`);
      },
    };
    this.host = host;
    if (workers > 0) {
      const setups = Array.from({ length: workers }, (_, index) => ({
        index,
        iceServers: options.iceServers ?? [],
        ...(ranges ? { portRange: ranges[index + 1] } : {}),
        ...(options.hostAddresses ? { hostAddresses: options.hostAddresses } : {}),
        ipv6: options.ipv6 ?? false,
        videoCodecs: [...video],
        connectTimeoutMs: this.host.connectTimeoutMs,
      }));
      this.pool = new WorkerPool(setups, { counters: this.counters, workerExit: (event) => this.emit('worker-exit', event) });
    }
    const limits = { min: options.videoBitrate?.min ?? 150_000, max: options.videoBitrate?.max ?? 2_500_000 };
    if (!(limits.min > 0 && limits.min <= limits.max)) throw new RangeError(`videoBitrate needs 0 < min <= max (got ${JSON.stringify(limits)}).`);
    this.bitrateTimer = setInterval(() => {
      for (const room of this.rooms.values()) room.adaptBitrates(limits);
    }, 1000);
    this.bitrateTimer.unref();
  }

  /** The room with this id, created on first use. */
  room(roomId: string): MediaRoom {
    if (this.closed) throw new MediaError('closed', 'The media server is closed.');
    let room = this.rooms.get(roomId);
    if (!room || room.isClosed) {
      room = new MediaRoom(roomId, this.host);
      this.rooms.set(roomId, room);
    }
    return room;
  }

  /** The room if it exists (has, or had since its last participant left, a participant). */
  findRoom(roomId: string): MediaRoom | undefined {
    return this.rooms.get(roomId);
  }

  /** The rooms with media (or a recording's tap) on this node. */
  roomIds(): string[] {
    return [...this.rooms.keys()];
  }

  publish(roomId: string, userId: string, offerSdp: string): Promise<string> {
    return this.room(roomId).publish(userId, offerSdp);
  }

  subscribe(roomId: string, userId: string): Promise<string> {
    return this.room(roomId).subscribe(userId);
  }

  acceptAnswer(roomId: string, userId: string, answerSdp: string): Promise<void> {
    const room = this.rooms.get(roomId);
    if (!room) return Promise.reject(new MediaError('not-found', `There is no media room "${roomId}".`));
    return room.acceptAnswer(userId, answerSdp);
  }

  async unpublish(roomId: string, userId: string): Promise<void> {
    await this.rooms.get(roomId)?.unpublish(userId);
  }

  async unsubscribe(roomId: string, userId: string): Promise<void> {
    await this.rooms.get(roomId)?.unsubscribe(userId);
  }

  async leave(roomId: string, userId: string): Promise<void> {
    await this.rooms.get(roomId)?.leave(userId);
  }

  /**
   * Copies a room's RTP to a recorder as plain RTP on loopback UDP (see tap.ts); what is copied is
   * set with setSources(), by track id. The tap outlives the room emptying; close() stops it.
   */
  tap(roomId: string, target: TapTarget): MediaTap {
    if (this.closed) throw new MediaError('closed', 'The media server is closed.');
    return this.taps.open(target, (trackId) => this.rooms.get(roomId)?.findTrack(trackId));
  }

  /** Sizes now and counters since start; reading it also brings the publishers' loss up to date. */
  stats(): MediaStats {
    return { rooms: this.rooms.size, peers: this.peers.size + (this.pool?.peers ?? 0), ...sumCounts(this.rooms.values()), ...this.counters };
  }

  /** The counters here are always up to date. */
  async readStats(): Promise<MediaStats> {
    return this.stats();
  }

  /** The subscriber worker threads, one entry per worker slot (empty without workers). */
  workerStats(): WorkerStats[] {
    return this.pool?.stats() ?? [];
  }

  /**
   * Closes every tap, room, connection and worker thread, and stops the timers. Safe to call
   * twice: a second call waits for the first.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    clearInterval(this.bitrateTimer);
    this.taps.closeAll();
    // A room's close() closes its own connections; one that fails must not keep the others open.
    for (const room of [...this.rooms.values()]) await room.close().catch(() => {});
    this.rooms.clear();
    for (const peer of [...this.peers]) await this.host.peerClosed(peer);
    await this.pool?.close();
  }

  private peerConfig(): RTCPeerConnectionConfig {
    return peerConfig({ ...this.options, portRange: this.mainPorts }, this.videoCodecs);
  }
}

/** A port range cut into `parts` consecutive ranges of at least two ports each (werift needs min < max). */
export function splitPorts([min, max]: [number, number], parts: number): Array<[number, number]> {
  const size = Math.floor((max - min + 1) / parts);
  if (size < 2) throw new RangeError(`portRange ${min}-${max} is too small for ${parts - 1} subscriber workers and the main thread (at least two ports each).`);
  return Array.from({ length: parts }, (_, i) => [min + i * size, i === parts - 1 ? max : min + (i + 1) * size - 1]);
}

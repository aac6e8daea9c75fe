// The SFU core: rooms of participants, each with at most one publishing RTCPeerConnection (the
// browser offers, we answer) and one subscribing RTCPeerConnection (we offer, the browser answers).
// RTP from each published track is copied, unchanged but for its header extensions, to one sender
// per subscriber; nothing is decoded. Every werift call in the project lives in this folder.
import { EventEmitter } from 'node:events';
import type { RTCPeerConnectionConfig } from 'werift';
import { MediaError } from './errors.ts';
import { codecs, type Peer } from './peers.ts';
import { MediaRoom, type RoomHost } from './room.ts';
import { announceAddress } from './sdp.ts';
import { MediaTap, type TapTarget } from './tap.ts';
import { VIDEO_CODECS, type Counters, type MediaServerEvents, type MediaServerOptions, type MediaStats, type VideoCodec } from './types.ts';

export class MediaServer extends EventEmitter<MediaServerEvents> {
  private readonly rooms = new Map<string, MediaRoom>();
  private readonly peers = new Set<Peer>();
  private readonly counters: Counters = { packetsReceived: 0, packetsForwarded: 0, bytesForwarded: 0, keyframeRequests: 0, packetsLostFromPublishers: 0, packetsLostBySubscribers: 0 };
  private readonly options: MediaServerOptions;
  private readonly host: RoomHost;
  private closed = false;
  private readonly bitrateTimer: NodeJS.Timeout;
  private readonly taps = new Set<MediaTap>();
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
    const server = this;
    this.host = {
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
      roomActive: (room) => {
        if (server.closed) throw new MediaError('closed', 'The media server is closed.');
        const known = server.rooms.get(room.id);
        if (!known) server.rooms.set(room.id, room);
        else if (known !== room) throw new MediaError('closed', `This handle on room "${room.id}" is stale (the room emptied and was made again): use MediaServer.room("${room.id}").`);
      },
    };
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
      room = new MediaRoom(roomId, this, this.host);
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
    const tap = new MediaTap(target, (trackId) => this.rooms.get(roomId)?.findTrack(trackId));
    this.taps.add(tap);
    tap.onClose = () => this.taps.delete(tap);
    return tap;
  }

  /** Sizes now and counters since start; reading it also brings the publishers' loss up to date. */
  stats(): MediaStats {
    let publishers = 0;
    let subscribers = 0;
    let tracks = 0;
    let forwards = 0;
    for (const room of this.rooms.values()) {
      const counts = room.counts();
      publishers += counts.publishers;
      subscribers += counts.subscribers;
      tracks += counts.tracks;
      forwards += counts.forwards;
    }
    return { rooms: this.rooms.size, peers: this.peers.size, publishers, subscribers, tracks, forwards, ...this.counters };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.bitrateTimer);
    for (const tap of [...this.taps]) tap.close();
    for (const room of [...this.rooms.values()]) await room.close();
    this.rooms.clear();
    for (const peer of [...this.peers]) await this.host.peerClosed(peer);
  }

  private peerConfig(): RTCPeerConnectionConfig {
    const options = this.options;
    return {
      iceServers: (options.iceServers ?? []).map((server) => ({ ...server })),
      icePortRange: options.portRange,
      iceAdditionalHostAddresses: options.hostAddresses,
      iceUseIpv6: options.ipv6 ?? false,
      bundlePolicy: 'max-bundle',
      codecs: codecs(this.videoCodecs),
      // No header extensions on either leg: no transport-cc (see codecs()), and none to translate.
      headerExtensions: { audio: [], video: [] },
    };
  }
}

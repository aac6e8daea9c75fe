// The media module's public types, and the counters its parts share.
import type { MediaError } from './errors.ts';

export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export interface MediaServerOptions {
  /** STUN/TURN servers for werift. Defaults to none: werift's own default is a public Google STUN host. */
  iceServers?: IceServer[];
  /** UDP ports for ICE, inclusive; min and max must differ (werift's rule). Defaults to any free port. */
  portRange?: [number, number];
  /** A public IP that forwards to this host (1:1 NAT, Docker): added as an extra host candidate. */
  announcedIp?: string;
  /** Extra local addresses to gather host candidates on, e.g. ['127.0.0.1'] in tests (werift skips loopback). */
  hostAddresses?: string[];
  /** Gather IPv6 candidates too. Default false. */
  ipv6?: boolean;
  /** At most one keyframe request (PLI) per published video track in this many ms. Default 500. */
  keyframeIntervalMs?: number;
  /** A connection that has not completed ICE and DTLS after this many ms is closed. Default 20000. */
  connectTimeoutMs?: number;
  /**
   * Bounds (bit/s) of the video bitrate asked of each publisher (REMB, once a second): the lowest
   * estimate among its receivers, but at least `min` and at most `max`. Defaults 150 000 and 2 500 000.
   */
  videoBitrate?: { min: number; max: number };
  /**
   * The video codecs the SFU takes, most wanted first. A publisher's browser is answered the first
   * of them it offers, and that codec is forwarded unchanged to every subscriber. Default
   * ['H264', 'VP8']: H.264 (constrained baseline, packetization-mode 1) where the browser has it,
   * since a recording can then copy it instead of transcoding.
   */
  videoCodecs?: VideoCodec[];
  /**
   * mediasoup: the node's viewer capacity (MEDIA_MAX_SUBSCRIBERS), shared out among its workers: a
   * room's viewers beyond one worker's share go to another worker, the room's tracks piped there.
   * Default 500.
   */
  maxSubscribers?: number;
  /**
   * Worker threads that serve the subscribers (their connections, SRTP and sending), so forwarding
   * grows with cores; the main thread keeps the publishers and posts each packet once per worker.
   * Default 0: everything on the main thread. With a portRange, each thread gets its own share.
   */
  workers?: number;
}

/** Video codecs the SFU can forward (and the recording tap can carry). */
export type VideoCodec = 'H264' | 'VP8';
export const VIDEO_CODECS: readonly VideoCodec[] = ['H264', 'VP8'];

export type TrackKind = 'audio' | 'video';

export interface PublishedTrackInfo {
  /** Stable id within the room: `${userId}:${mid of the publisher's m-line}`. */
  id: string;
  userId: string;
  kind: TrackKind;
  /** What the publisher sends (negotiated: exactly one codec per track): 'H264' or 'VP8' for video, 'opus' for audio. */
  codec?: string;
  /** The publisher's own MediaStream id and track id (from its a=msid), when it sent them. */
  streamId?: string;
  trackId?: string;
}

export interface SubscribedTrackInfo extends PublishedTrackInfo {
  /** The m-line (transceiver mid) carrying this track in the subscriber's session. */
  mid: string;
}

export interface RenegotiateEvent {
  roomId: string;
  userId: string;
  /** A new offer for the user's subscribing connection: give it to the browser, then call acceptAnswer(). */
  offerSdp: string;
  tracks: SubscribedTrackInfo[];
}

export interface ConnectionStateEvent {
  roomId: string;
  userId: string;
  role: 'publisher' | 'subscriber';
  state: string;
}

export interface FailureEvent {
  roomId: string;
  userId: string;
  /** Which of the user's connections failed (and was closed, for a timeout). */
  role?: 'publisher' | 'subscriber';
  error: MediaError;
}

export interface CodecRefusedEvent {
  roomId: string;
  /** The subscriber whose browser cannot decode the track (its answer rejected it). */
  userId: string;
  trackId: string;
  codec: string;
}

export interface MediaServerEvents {
  /** A subscriber needs the new offer (published tracks were added or removed). */
  renegotiate: [RenegotiateEvent];
  /** The room's published tracks changed. */
  tracks: [{ roomId: string; tracks: PublishedTrackInfo[] }];
  'connection-state': [ConnectionStateEvent];
  /** A renegotiation the server started on its own failed. */
  failure: [FailureEvent];
  /** A subscriber's browser cannot decode a track's codec: it does not get that track (nothing else changes). */
  'codec-refused': [CodecRefusedEvent];
  /** A subscriber worker thread stopped (MediaServerOptions.workers): a fresh one takes its place; its subscribers get a `failure`. */
  'worker-exit': [WorkerExitEvent];
}

export interface WorkerExitEvent {
  /** The worker's slot, 0 to workers − 1 (its replacement keeps it). */
  worker: number;
  threadId: number;
  exitCode: number;
  /** The uncaught error that stopped it, if one did. */
  error?: string;
  /** Its subscribers, each told its receiving connection failed (mediasoup: every connection on it). */
  subscribers: number;
  /** The rooms whose media it held (mediasoup): their connections are gone, and what a recording taps with them. */
  rooms: string[];
  /** When the replacement starts: 0 (at once), longer when the slot's threads keep stopping soon after starting. */
  restartInMs: number;
}

/** One subscriber worker slot (MediaServer.workerStats()). */
export interface WorkerStats {
  worker: number;
  threadId: number;
  /** False between a thread stopping and its replacement starting. */
  running: boolean;
  subscribers: number;
  /** The published tracks whose packets go to this worker (it has a subscriber of each). */
  tracks: string[];
  /** Packets posted to this thread since it started, by kind of track. */
  packetsRelayed: Record<TrackKind, number>;
}

export interface MediaStats {
  rooms: number;
  /** Live RTCPeerConnections (publishing plus subscribing). */
  peers: number;
  publishers: number;
  subscribers: number;
  /** Published tracks. */
  tracks: number;
  /** (published track, subscriber) pairs. */
  forwards: number;
  /** Since the server started. */
  packetsReceived: number;
  packetsForwarded: number;
  /** RTP bytes (header and payload, before SRTP) of the packets forwarded. */
  bytesForwarded: number;
  keyframeRequests: number;
  /**
   * Publishers' packets that never reached the SFU: gaps in the RTP sequence numbers of each
   * published stream (werift's receiver statistics, as an RTCP receiver report counts them; a
   * packet repaired by NACK is not lost). Counted as it grows, never taken back.
   */
  packetsLostFromPublishers: number;
  /**
   * Packets the subscribers' browsers say they lost (cumulative "packets lost" of their RTCP
   * receiver reports, per forwarded stream). End to end: a gap from the publisher is forwarded as
   * a gap, so it is counted again by each subscriber of that stream.
   */
  packetsLostBySubscribers: number;
}

export type Counters = Pick<MediaStats, 'packetsReceived' | 'packetsForwarded' | 'bytesForwarded' | 'keyframeRequests' | 'packetsLostFromPublishers' | 'packetsLostBySubscribers'>;

/** Counters all at zero. */
export function newCounters(): Counters {
  return { packetsReceived: 0, packetsForwarded: 0, bytesForwarded: 0, keyframeRequests: 0, packetsLostFromPublishers: 0, packetsLostBySubscribers: 0 };
}

/** A room's sizes, as each engine's rooms count them. */
export type RoomCounts = Pick<MediaStats, 'publishers' | 'subscribers' | 'tracks' | 'forwards'>;

/** The sizes of all these rooms together. */
export function sumCounts(rooms: Iterable<{ counts(): RoomCounts }>): RoomCounts {
  const sum: RoomCounts = { publishers: 0, subscribers: 0, tracks: 0, forwards: 0 };
  for (const room of rooms) {
    const counts = room.counts();
    sum.publishers += counts.publishers;
    sum.subscribers += counts.subscribers;
    sum.tracks += counts.tracks;
    sum.forwards += counts.forwards;
  }
  return sum;
}

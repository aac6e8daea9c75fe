// The pieces of one participant's media: a peer connection, the tracks it publishes (with the
// RTP forwarding hot path), and what a subscriber receives. Only server/media calls werift.
import {
  RTCPeerConnection,
  RtpHeader,
  RtpPacket,
  useNACK,
  useH264,
  useOPUS,
  usePLI,
  useREMB,
  useVP8,
  type MediaStreamTrack,
  type RTCPeerConnectionConfig,
  type RTCRtpReceiver,
  type RTCRtpSender,
  type RTCRtpTransceiver,
} from 'werift';
import { useKeyObjects } from './srtp-keys.ts';
import { VIDEO_CODECS, type Counters, type IceServer, type PublishedTrackInfo, type VideoCodec } from './types.ts';

export const noop = () => {};

/** The H.264 the SFU takes and offers: constrained baseline, FU-A/STAP-A packets (what browsers all decode). */
const H264_FMTP = 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f';

/**
 * Opus, and the video codecs in the order asked, on both legs. A publisher is answered one video
 * codec per track (sdp.ts keepOneVideoCodec) and each subscriber is offered exactly that codec for
 * that track (forwarding.ts), so a forwarded packet never needs a codec change.
 */
export function codecs(video: readonly VideoCodec[] = VIDEO_CODECS) {
  // REMB, not transport-cc: werift's transport-cc feedback kept Chromium's video near 200 kbit/s.
  const rtcpFeedback = () => [useNACK(), usePLI(), useREMB()];
  return {
    audio: [useOPUS({ parameters: 'minptime=10;useinbandfec=1' })],
    video: video.map((name) => (name === 'H264' ? useH264({ rtcpFeedback: rtcpFeedback(), parameters: H264_FMTP }) : useVP8({ rtcpFeedback: rtcpFeedback() }))),
  };
}

/** The RTCPeerConnection settings of every SFU connection (main thread or subscriber worker). */
export function peerConfig(options: { iceServers?: IceServer[]; portRange?: [number, number]; hostAddresses?: string[]; ipv6?: boolean }, video: readonly VideoCodec[]): RTCPeerConnectionConfig {
  return {
    iceServers: (options.iceServers ?? []).map((server) => ({ ...server })),
    icePortRange: options.portRange,
    iceAdditionalHostAddresses: options.hostAddresses,
    iceUseIpv6: options.ipv6 ?? false,
    bundlePolicy: 'max-bundle',
    codecs: codecs(video),
    // No header extensions on either leg: no transport-cc (see codecs()), and none to translate.
    headerExtensions: { audio: [], video: [] },
  };
}

/** msid tokens must not contain spaces; keep ids readable but safe. */
export function msidToken(value: string): string {
  return value.replace(/[^A-Za-z0-9_.~-]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`) || '-';
}

type DtlsTransport = RTCPeerConnection['dtlsTransports'][number];

export class Peer {
  readonly pc: RTCPeerConnection;
  closed = false;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly disposers: Array<() => void> = [];
  /** Every DTLS transport this connection's m-lines have used (see reapTransports). */
  private readonly transports = new Set<DtlsTransport>();

  constructor(config: RTCPeerConnectionConfig) {
    this.pc = new RTCPeerConnection(config);
  }

  /** Runs negotiation steps of one connection one after another. */
  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.chain.then(task);
    this.chain = result.catch(noop);
    return result;
  }

  onClose(dispose: () => void) {
    this.disposers.push(dispose);
  }

  /**
   * Stops the transports no live m-line uses any more; call after each completed negotiation.
   * werift stops an idle transport itself, except one whose far end has already closed its DTLS
   * (Chromium sends close_notify when every m-line of a bundle is stopped, e.g. when the only other
   * publisher leaves): werift marks that one closed and forgets it, with its ICE agent's UDP
   * sockets and consent timer still open, for as long as the process lives.
   */
  reapTransports(): void {
    const live = new Set(this.pc.dtlsTransports);
    for (const transport of live) this.transports.add(transport);
    for (const transport of this.transports) {
      if (live.has(transport)) continue;
      this.transports.delete(transport);
      stopTransport(transport);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const dispose of this.disposers.splice(0)) dispose();
    for (const transport of this.pc.dtlsTransports) this.transports.add(transport);
    await this.pc.close().catch(noop);
    for (const transport of this.transports) stopTransport(transport);
    this.transports.clear();
  }
}

/**
 * Follows a connection until it closes: `onTimeout` once if ICE and DTLS have not completed within
 * `timeoutMs` (a browser gone, blocked, or not a browser), `onState` on each state change. Once
 * connected, werift's SRTP keys become KeyObjects (srtp-keys.ts).
 */
export function watchConnection(peer: Peer, timeoutMs: number, onTimeout: () => void, onState: (state: string) => void): void {
  let connectTimer: NodeJS.Timeout | undefined = setTimeout(() => {
    connectTimer = undefined;
    if (!peer.closed && peer.pc.connectionState !== 'connected') onTimeout();
  }, timeoutMs);
  peer.onClose(() => clearTimeout(connectTimer));
  const { unSubscribe } = peer.pc.connectionStateChange.subscribe((state) => {
    if (peer.closed) return;
    if (state === 'connected') {
      clearTimeout(connectTimer);
      connectTimer = undefined;
      useKeyObjects(peer.pc);
    }
    onState(state);
  });
  peer.onClose(unSubscribe);
}

/**
 * Sends one packet (header without extensions, `bytes` long before SRTP) to every subscriber of a
 * track whose sender is ready; in the main thread (PublishedTrack) and in the subscriber workers.
 */
export function sendToForwards(forwards: Iterable<Forward>, packet: RtpPacket, bytes: number, counters: Counters): void {
  for (const forward of forwards) {
    const sender = forward.sender;
    if (sender.stopped || !sender.codec || sender.dtlsTransport?.state !== 'connected') continue;
    sender.sendRtp(packet).catch(noop);
    counters.packetsForwarded++;
    counters.bytesForwarded += bytes;
  }
}

/** Closes a transport's ICE agent (its UDP sockets) unless that is done already. */
function stopTransport(transport: DtlsTransport): void {
  if (transport.iceTransport.state !== 'closed') transport.stop().catch(noop);
}

export class PublishedTrack {
  readonly info: PublishedTrackInfo;
  readonly forwards = new Set<Forward>();
  /** Recorders' listeners (tap.ts), each with what to call when this track goes. */
  readonly taps = new Map<(packet: RtpPacket) => void, () => void>();
  /** Hands each packet to the subscriber workers, when they serve this room (set by WorkerPool.route). */
  relay: ((packet: RtpPacket) => void) | undefined;
  private lastKeyframeRequest = 0;
  private keyframeTimer: NodeJS.Timeout | undefined;
  private keyframeWanted = false;
  private closed = false;
  private readonly unsubscribe: () => void;
  private readonly track: MediaStreamTrack;
  readonly receiver: RTCRtpReceiver;
  readonly counters: Counters;
  /** The publisher's packets found lost so far (see noteLoss). */
  private lostSeen = 0;
  private readonly keyframeIntervalMs: number;

  constructor(info: PublishedTrackInfo, receiver: RTCRtpReceiver, counters: Counters, keyframeIntervalMs: number) {
    this.info = info;
    this.receiver = receiver;
    this.track = receiver.track;
    this.counters = counters;
    this.keyframeIntervalMs = keyframeIntervalMs;
    const track = this.track;
    this.unsubscribe = track.onReceiveRtp.subscribe((packet) => this.forward(packet)).unSubscribe;
  }

  addTap(listener: (packet: RtpPacket) => void, closed: () => void): void {
    if (this.closed) closed();
    else this.taps.set(listener, closed);
  }

  removeTap(listener: (packet: RtpPacket) => void): void {
    this.taps.delete(listener);
  }

  /**
   * The hot path. werift's sender clones the packet it is given before rewriting ssrc, payload
   * type, sequence, timestamp and extensions (RTCRtpSender.dispatchRtp), so one packet, stripped of
   * the publisher's header extensions (their ids belong to the publisher's session), serves every
   * subscriber; the payload buffer is shared, never copied.
   */
  private forward(packet: RtpPacket) {
    this.counters.packetsReceived++;
    if (this.keyframeWanted && this.track.ssrc !== undefined) {
      this.keyframeWanted = false;
      this.requestKeyframe();
    }
    // Padding-only packets (bandwidth probes) carry nothing a subscriber can use.
    if (packet.payload.length === 0) return;
    for (const tap of this.taps.keys()) tap(packet);
    // Subscribers in worker threads (worker-pool.ts): the packet is queued for them there.
    this.relay?.(packet);
    if (this.forwards.size === 0) return;
    const stripped = new RtpPacket(new RtpHeader({ ...packet.header, extension: false, extensions: [] }), packet.payload);
    // Header (no extensions left) and payload: what each subscriber is sent, before SRTP.
    const bytes = 12 + 4 * packet.header.csrc.length + packet.payload.length;
    sendToForwards(this.forwards, stripped, bytes, this.counters);
  }

  /**
   * Adds the publisher's packets lost since the last call to the counters: werift keeps, per
   * received SSRC, what an RTCP receiver report counts (highest sequence number seen − first + 1 −
   * packets received; a packet repaired by NACK is not lost). That figure falls back when a late
   * packet arrives, so only its growth past the highest value seen is counted. Read when stats are
   * asked for and when the track closes, never per packet.
   */
  noteLoss() {
    const ssrc = this.track.ssrc;
    if (ssrc === undefined) return;
    // werift's own receiver statistics; not in its typings, hence the guarded read.
    const streams = (this.receiver as unknown as { remoteStreams?: Record<number, { packets_lost?: unknown } | undefined> }).remoteStreams;
    const lost = streams?.[ssrc]?.packets_lost;
    if (typeof lost !== 'number' || !(lost > this.lostSeen)) return;
    this.counters.packetsLostFromPublishers += lost - this.lostSeen;
    this.lostSeen = lost;
  }

  /** A PLI to the publisher, at most one per keyframeIntervalMs; a request inside the window is deferred to its end. */
  requestKeyframe() {
    if (this.closed || this.info.kind !== 'video') return;
    const ssrc = this.track.ssrc;
    if (ssrc === undefined) {
      this.keyframeWanted = true; // asked again when the first packet tells us the SSRC
      return;
    }
    const wait = this.lastKeyframeRequest + this.keyframeIntervalMs - Date.now();
    if (wait > 0) {
      this.keyframeTimer ??= setTimeout(() => {
        this.keyframeTimer = undefined;
        this.requestKeyframe();
      }, wait);
      return;
    }
    this.lastKeyframeRequest = Date.now();
    this.counters.keyframeRequests++;
    this.receiver.sendRtcpPLI(ssrc).catch(noop);
  }

  close() {
    if (!this.closed) this.noteLoss();
    this.closed = true;
    this.unsubscribe();
    const closing = [...this.taps.values()];
    this.taps.clear();
    for (const closed of closing) closed();
    clearTimeout(this.keyframeTimer);
    this.forwards.clear();
  }
}

/** What forwarding needs of a published track: the real one, or a subscriber worker's mirror of it. */
export interface ForwardedTrack {
  readonly info: PublishedTrackInfo;
  readonly forwards: Set<Forward>;
  readonly counters: Counters;
  requestKeyframe(): void;
  close(): void;
}

export interface Forward {
  readonly track: ForwardedTrack;
  readonly subscriber: Subscriber;
  readonly transceiver: RTCRtpTransceiver;
  readonly sender: RTCRtpSender;
  /** In an answered offer (so the browser expects its packets). */
  negotiated: boolean;
  /** The browser's answer rejected it (it cannot decode the track's codec): nothing is sent to it. */
  refused?: boolean;
  /** The cumulative loss the subscriber last reported for this stream (RTCP receiver report). */
  lostReported: number;
  readonly dispose: () => void;
}

export class Publisher {
  readonly peer: Peer;
  /** By the mid of the publisher's m-line. */
  readonly tracks = new Map<string, PublishedTrack>();
  /** The video bitrate (bit/s) last asked of this publisher in a REMB (bandwidth.ts). */
  sentEstimate: number | undefined;
  constructor(config: RTCPeerConnectionConfig) {
    this.peer = new Peer(config);
  }
}

export class Subscriber {
  readonly peer: Peer;
  /** By published track id. */
  readonly forwards = new Map<string, Forward>();
  /** Tracks changed while an offer was waiting for its answer: offer again after it. */
  dirty = false;
  /** Senders were stopped since the last offer. */
  stopped = false;
  /** What the receiving browser last said it can take (REMB), and when. */
  estimate: { bps: number; at: number } | undefined;
  constructor(config: RTCPeerConnectionConfig) {
    this.peer = new Peer(config);
  }
}


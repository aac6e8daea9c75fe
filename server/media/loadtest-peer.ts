// A synthetic subscriber for load tests (bench/fanout.ts): a werift RTCPeerConnection that answers
// the SFU's subscribe (and renegotiation) offers, decrypts what it receives and counts RTP packets
// per track, estimating loss from RTP sequence-number gaps. It decodes nothing, so one process can
// hold hundreds of them where a browser could not. Lives here because every werift call does.
import { RTCPeerConnection, type MediaStreamTrack, type RtpPacket } from 'werift';
import { MediaError } from './errors.ts';
import { rembPacket } from './bandwidth.ts';
import { codecs, noop } from './peers.ts';
import { useKeyObjects } from './srtp-keys.ts';
import type { IceServer, TrackKind, VideoCodec } from './types.ts';

export interface LoadTestPeerOptions {
  /** Defaults to none (as MediaServer's). */
  iceServers?: IceServer[];
  /** Extra host candidates, e.g. ['127.0.0.1'] for an SFU on loopback. */
  hostAddresses?: string[];
  /**
   * Hand werift's SRTP ciphers KeyObjects instead of Buffers once connected (default true): on
   * Node 24, createDecipheriv with a Buffer key throws and catches two exceptions inside Node
   * (prepareSecretKey's isKeyObject/isCryptoKey checks), about 10 µs per packet; the load
   * generator should not spend its CPU on that.
   */
  keyObjects?: boolean;
  /** The video codecs it can receive (default both): without the track's codec it refuses that m-line, as such a browser would. */
  videoCodecs?: VideoCodec[];
}

/** Counters of one received RTP stream (one SSRC), cumulative since it started. */
export interface ReceivedStreamStats {
  kind: TrackKind;
  ssrc: number;
  /** Every RTP packet handed up by werift (after SRTP), retransmissions and duplicates included. */
  packets: number;
  /** Payload bytes. */
  bytes: number;
  /** Highest extended sequence number seen − first one + 1 (RTCP's "expected"). */
  expected: number;
  /** Sequence numbers skipped when a packet arrived ahead of them (loss before any repair by NACK). */
  gaps: number;
}

export interface LoadTestPeerStats {
  connectionState: string;
  streams: ReceivedStreamStats[];
}

/** Extended (wrap-aware) sequence tracking for one SSRC, as an RTCP receiver report counts it. */
class SequenceCounter {
  readonly kind: TrackKind;
  readonly ssrc: number;
  packets = 0;
  bytes = 0;
  gaps = 0;
  private base = -1;
  private highest = -1;

  constructor(kind: TrackKind, ssrc: number) {
    this.kind = kind;
    this.ssrc = ssrc;
  }

  add(sequenceNumber: number, payloadBytes: number) {
    this.packets++;
    this.bytes += payloadBytes;
    if (this.highest < 0) {
      this.base = this.highest = sequenceNumber;
      return;
    }
    const ahead = (sequenceNumber - (this.highest & 0xffff) + 0x10000) & 0xffff;
    if (ahead === 0 || ahead >= 0x8000) return; // a duplicate, a retransmission or a late packet
    this.gaps += ahead - 1;
    this.highest += ahead;
  }

  stats(): ReceivedStreamStats {
    const expected = this.highest < 0 ? 0 : this.highest - this.base + 1;
    return { kind: this.kind, ssrc: this.ssrc, packets: this.packets, bytes: this.bytes, expected, gaps: this.gaps };
  }
}

export class LoadTestPeer {
  private readonly pc: RTCPeerConnection;
  private readonly counters = new Map<number, SequenceCounter>();
  private readonly disposers: Array<() => void> = [];
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(options: LoadTestPeerOptions = {}) {
    // The SFU's own codec set and no header extensions, so its offers are answered as a browser would.
    this.pc = new RTCPeerConnection({
      iceServers: (options.iceServers ?? []).map((server) => ({ ...server })),
      iceAdditionalHostAddresses: options.hostAddresses,
      iceUseIpv6: false,
      bundlePolicy: 'max-bundle',
      codecs: codecs(options.videoCodecs),
      headerExtensions: { audio: [], video: [] },
    });
    const { unSubscribe } = this.pc.onTrack.subscribe((track) => this.watch(track));
    this.disposers.push(unSubscribe);
    if (options.keyObjects ?? true) {
      const state = this.pc.connectionStateChange.subscribe((value) => {
        if (value === 'connected') useKeyObjects(this.pc);
      });
      this.disposers.push(state.unSubscribe);
    }
  }

  get connectionState(): string {
    return this.pc.connectionState;
  }

  /**
   * Applies an offer from the SFU (the first subscribe offer or a renegotiation) and returns the
   * answer, with all candidates in it. Offers are answered one after another.
   */
  answer(offerSdp: string): Promise<string> {
    const result = this.chain.then(async () => {
      if (this.closed) throw new MediaError('closed', 'The load-test peer is closed.');
      try {
        await this.pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
        const answer = await this.pc.createAnswer();
        await this.pc.setLocalDescription(answer);
        return this.pc.localDescription?.sdp ?? answer.sdp;
      } catch (error) {
        if (error instanceof MediaError) throw error;
        throw new MediaError('invalid-sdp', `The load-test peer could not answer the offer: ${error instanceof Error ? error.message : String(error)}.`, { cause: error });
      }
    });
    this.chain = result.catch(noop);
    return result;
  }

  /** Resolves when the connection is up; rejects if it fails, closes or takes longer than `timeoutMs`. */
  connected(timeoutMs = 20_000): Promise<void> {
    if (this.pc.connectionState === 'connected') return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`not connected after ${timeoutMs} ms (state ${this.pc.connectionState})`)), timeoutMs);
      const { unSubscribe } = this.pc.connectionStateChange.subscribe((state) => {
        if (state === 'connected') finish();
        else if (state === 'failed' || state === 'closed') finish(new Error(`connection ${state}`));
      });
      function finish(error?: Error) {
        clearTimeout(timer);
        unSubscribe();
        if (error) reject(error);
        else resolve();
      }
    });
  }

  /** Tells the SFU, as a browser's REMB does, that this peer can take `bps` bit/s of video. False before video arrives. */
  async sendEstimate(bps: number): Promise<boolean> {
    const ssrcs = [...this.counters.values()].filter((c) => c.kind === 'video').map((c) => c.ssrc);
    const receiver = this.pc.getTransceivers().find((t) => t.kind === 'video')?.receiver;
    if (ssrcs.length === 0 || !receiver || receiver.dtlsTransport?.state !== 'connected') return false;
    await receiver.dtlsTransport.sendRtcp([rembPacket(receiver.rtcpSsrc, bps, ssrcs)]);
    return true;
  }

  stats(): LoadTestPeerStats {
    return { connectionState: this.pc.connectionState, streams: [...this.counters.values()].map((counter) => counter.stats()) };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const dispose of this.disposers.splice(0)) dispose();
    await this.pc.close().catch(noop);
  }

  private watch(track: MediaStreamTrack) {
    const kind: TrackKind = track.kind === 'audio' ? 'audio' : 'video';
    const { unSubscribe } = track.onReceiveRtp.subscribe((packet: RtpPacket) => {
      const ssrc = packet.header.ssrc;
      let counter = this.counters.get(ssrc);
      if (!counter) {
        counter = new SequenceCounter(kind, ssrc);
        this.counters.set(ssrc, counter);
      }
      counter.add(packet.header.sequenceNumber, packet.payload.length);
    });
    this.disposers.push(unSubscribe);
  }
}

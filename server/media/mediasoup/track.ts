// A published track on the mediasoup engine: its producer, and the recorders' listeners, fed by
// a plain RTP consumer of the producer that sends to a UDP socket of ours on loopback.
import { createSocket, type Socket } from 'node:dgram';
import type { Consumer, PlainTransport, Producer, Router, RtpCapabilities } from 'mediasoup/types';
import { RtpPacket } from 'werift';
import type { TapSource } from '../tap.ts';
import type { Counters, PublishedTrackInfo } from '../types.ts';
import { browserCapabilities } from './sdp.ts';

const noop = () => {};

/** A track's copy for the recorders: a plain RTP consumer sending to a socket of ours. */
interface PlainTap {
  socket: Socket;
  transport?: PlainTransport;
  consumer?: Consumer;
  /** The consumer's media stream: its SSRC and payload type (not its RTX, nor mediasoup's probation packets on SSRC 1234). */
  ssrc?: number;
  payloadType?: number;
}

/** A published track: one producer, and the recorders' listeners (fed by a plain RTP consumer on loopback). */
export class SoupTrack implements TapSource {
  readonly info: PublishedTrackInfo;
  readonly producer: Producer;
  /** Tells the track apart from the next one the browser sends on the same m-line. */
  readonly identity: string;
  readonly #taps = new Map<(packet: RtpPacket) => void, () => void>();
  /** The receiving browsers' consumers of this track (set by the room), to ask for keyframes through. */
  readonly consumers = new Set<Consumer>();
  #lastKeyframeRequest = 0;
  #keyframeTimer: NodeJS.Timeout | undefined;
  readonly #keyframeIntervalMs: number;
  #plain: PlainTap | undefined;
  #closed = false;
  readonly #router: Router;
  readonly #counters: Counters;

  constructor(info: PublishedTrackInfo, producer: Producer, identity: string, router: Router, counters: Counters, keyframeIntervalMs: number) {
    this.info = info;
    this.#keyframeIntervalMs = keyframeIntervalMs;
    this.producer = producer;
    this.identity = identity;
    this.#router = router;
    this.#counters = counters;
  }

  addTap(listener: (packet: RtpPacket) => void, closed: () => void): void {
    if (this.#closed) return closed();
    this.#taps.set(listener, closed);
    if (!this.#plain) this.#openPlain();
  }

  removeTap(listener: (packet: RtpPacket) => void): void {
    this.#taps.delete(listener);
    if (this.#taps.size === 0) this.#closePlain();
  }

  /** A keyframe request to the publisher, at most one per keyframeIntervalMs; one inside the window is deferred to its end. */
  requestKeyframe(): void {
    if (this.#closed || this.info.kind !== 'video') return;
    const wait = this.#lastKeyframeRequest + this.#keyframeIntervalMs - Date.now();
    if (wait > 0) {
      this.#keyframeTimer ??= setTimeout(() => {
        this.#keyframeTimer = undefined;
        this.requestKeyframe();
      }, wait);
      return;
    }
    // Through any consumer of the producer: mediasoup passes it on as a PLI (or FIR).
    const consumer = this.#plain?.consumer ?? [...this.consumers].find((c) => !c.closed);
    if (!consumer) return;
    this.#lastKeyframeRequest = Date.now();
    this.#counters.keyframeRequests++;
    consumer.requestKeyFrame().catch(noop);
  }

  /** The producer's RTP as plain RTP to a socket of ours on loopback; RTCP on the same port is left out. */
  #openPlain(): void {
    const socket = createSocket('udp4');
    const plain: PlainTap = { socket };
    socket.on('error', noop);
    socket.on('message', (message) => {
      // RTCP (rtcp-mux): packet types 192-223 in the second byte.
      const type = message[1] ?? 0;
      if (message.length < 12 || (type >= 192 && type <= 223) || this.#plain !== plain || plain.ssrc === undefined) return;
      // Only the media stream itself: mediasoup may also send RTX and bandwidth probes (SSRC 1234,
      // padding), whose numbers and payloads are not the track's.
      if (message.readUInt32BE(8) !== plain.ssrc || (type & 0x7f) !== plain.payloadType) return;
      let packet: RtpPacket;
      try {
        packet = RtpPacket.deSerialize(message);
      } catch {
        return;
      }
      if (packet.payload.length === 0) return;
      for (const listener of this.#taps.keys()) listener(packet);
    });
    this.#plain = plain;
    socket.bind(0, '127.0.0.1', () => {
      void (async () => {
        const transport = await this.#router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: true, comedia: false });
        plain.transport = transport;
        if (this.#plain !== plain) return transport.close();
        await transport.connect({ ip: '127.0.0.1', port: socket.address().port });
        const consumer = await transport.consume({ producerId: this.producer.id, rtpCapabilities: browserCapabilities(this.#router.rtpCapabilities) as RtpCapabilities, paused: false });
        plain.consumer = consumer;
        plain.ssrc = consumer.rtpParameters.encodings?.[0]?.ssrc;
        plain.payloadType = consumer.rtpParameters.codecs[0]?.payloadType;
        if (this.#plain !== plain) return transport.close();
        // A recorder needs a keyframe to start from: ask now, whatever the rate limit.
        this.#counters.keyframeRequests++;
        await consumer.requestKeyFrame();
      })().catch(() => {
        // The producer or the router closed meanwhile: close() tells the listeners.
        if (this.#plain === plain) this.#closePlain();
      });
    });
  }

  #closePlain(): void {
    const plain = this.#plain;
    this.#plain = undefined;
    if (!plain) return;
    if (plain.transport) plain.transport.close();
    plain.socket.close();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#keyframeTimer);
    this.consumers.clear();
    if (!this.producer.closed) this.producer.close();
    const closing = [...this.#taps.values()];
    this.#taps.clear();
    this.#closePlain();
    for (const closed of closing) closed();
  }
}


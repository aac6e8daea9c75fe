// One room on the mediasoup engine: a router on one worker; per participant at most one sending
// WebRtcTransport (its producers, one per m-line of the browser's offer) and one receiving
// WebRtcTransport (a consumer per track others publish, one m-line each in our offer). SDP is
// translated in sdp.ts; this file drives mediasoup. Each connection's negotiation steps run one
// after another; the room's own state changes (a publisher's tracks) renegotiate its subscribers.
import { createSocket, type Socket } from 'node:dgram';
import type { EventEmitter } from 'node:events';
import type { Consumer, PlainTransport, Producer, Router, RtpCapabilities, WebRtcTransport, WebRtcTransportOptions } from 'mediasoup/types';
import { RtpPacket } from 'werift';
import type { MediaRoomView } from '../engine.ts';
import { describeCause, MediaError } from '../errors.ts';
import { msidToken } from '../peers.ts';
import { checkSdp } from '../sdp.ts';
import type { TapSource } from '../tap.ts';
import type { Counters, MediaServerEvents, PublishedTrackInfo, SubscribedTrackInfo, TrackKind, VideoCodec } from '../types.ts';
import { browserCapabilities, codecName, readPublishOffer, readSubscribeAnswer, writePublishAnswer, writeSubscribeOffer, type AnsweredSection, type LocalTransport, type SubscriberSection } from './sdp.ts';

/** What a room needs from its engine. */
export interface RoomHost {
  readonly counters: Counters;
  readonly keyframeIntervalMs: number;
  readonly connectTimeoutMs: number;
  readonly videoCodecs: readonly VideoCodec[];
  readonly maxIncomingBitrate: number;
  transportOptions(): WebRtcTransportOptions;
  readonly emit: EventEmitter<MediaServerEvents>['emit'];
  finishSdp(sdp: string): string;
  /** The room has no connection left (or its worker died): the engine forgets it. */
  roomEmpty(room: SoupRoom): void;
  /** Receiving connections one worker serves in one room before the next worker takes some. */
  readonly subscribersPerRouter: number;
  /** A router for this room on another worker than `used` (the least busy), or none if every worker has one. */
  extraRouter(room: SoupRoom, used: readonly Router[]): Promise<Router | undefined>;
  /** The room no longer uses this (extra) router. */
  routerClosed(room: SoupRoom, router: Router): void;
}

const noop = () => {};

/** Runs one connection's negotiation steps one after another. */
class Chain {
  #tail: Promise<unknown> = Promise.resolve();
  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(task);
    this.#tail = result.catch(noop);
    return result;
  }
}

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

/** A WebRtcTransport with its DTLS state followed and a connect timeout. */
class Connection {
  readonly transport: WebRtcTransport;
  /** The router (so the worker) the transport belongs to. */
  router!: Router;
  readonly chain = new Chain();
  /** transport.connect() was called (once per transport). */
  dtlsSet = false;
  closed = false;
  version = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(transport: WebRtcTransport, timeoutMs: number, onTimeout: () => void, onState: (state: string) => void) {
    this.transport = transport;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.closed && transport.dtlsState !== 'connected') onTimeout();
    }, timeoutMs);
    transport.on('dtlsstatechange', (state) => {
      if (this.closed) return;
      if (state === 'connected') clearTimeout(this.#timer);
      onState(state === 'connecting' ? 'connecting' : state);
    });
    transport.on('icestatechange', (state) => {
      if (!this.closed && state === 'disconnected') onState('disconnected');
    });
  }

  local(): LocalTransport {
    return { ice: this.transport.iceParameters, candidates: this.transport.iceCandidates, dtls: this.transport.dtlsParameters };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.#timer);
    if (!this.transport.closed) this.transport.close();
  }
}

class Publisher extends Connection {
  /** By the mid of the browser's m-line. */
  readonly tracks = new Map<string, SoupTrack>();
  iceUfrag: string | undefined;
}

interface Forward {
  track: SoupTrack;
  consumer: Consumer;
  mid: string;
}

class Subscriber extends Connection {
  /** Every m-line of our offers so far, in order (a closed one stays, to keep the order). */
  readonly sections: Array<SubscriberSection & { trackId?: string }> = [];
  /** By published track id. */
  readonly forwards = new Map<string, Forward>();
  /** Waiting for the browser's answer to our latest offer. */
  offered = false;
  /** The room's tracks changed while an offer was out: offer again after the answer. */
  dirty = false;
  nextMid = 0;
}

export class SoupRoom implements MediaRoomView {
  readonly id: string;
  readonly router: Router;
  readonly #host: RoomHost;
  readonly #publishers = new Map<string, Publisher>();
  readonly #subscribers = new Map<string, Subscriber>();
  /** Connections being opened (a second call for the same user waits for the first). */
  readonly #opening = new Map<string, Promise<Connection>>();
  /** The room's routers: this.router (its home: every producer, the recording's taps) first, then one per extra worker serving viewers. */
  readonly #routers: Router[];
  /** Per producer, the extra routers it is piped to (pipeToRouter), done or under way. */
  readonly #piped = new Map<string, Map<Router, Promise<void>>>();
  #closed = false;

  constructor(id: string, router: Router, host: RoomHost) {
    this.id = id;
    this.router = router;
    this.#host = host;
    this.#routers = [router];
  }

  /** Connections this room has on a router (its worker's load). */
  connectionsOn(router: Router): number {
    let count = router === this.router ? this.#publishers.size : 0;
    for (const subscriber of this.#subscribers.values()) if (subscriber.router === router) count++;
    return count;
  }

  /**
   * The router a new receiving connection goes to: the first of the room's routers with room
   * for one more (subscribersPerRouter), else a new router on another worker (its producers are
   * piped there as its viewers need them), else the least loaded of the room's routers.
   */
  async #routerForSubscriber(): Promise<Router> {
    const share = this.#host.subscribersPerRouter;
    const open = this.#routers.filter((router) => !router.closed);
    const viewers = (router: Router) => [...this.#subscribers.values()].filter((s) => s.router === router).length;
    const free = open.find((router) => viewers(router) < share);
    if (free) return free;
    const extra = await this.#host.extraRouter(this, open).catch(() => undefined);
    if (extra && !this.#closed) {
      this.#routers.push(extra);
      return extra;
    }
    return open.reduce((best, router) => (viewers(router) < viewers(best) ? router : best), this.router);
  }

  /** Makes the track's producer available on another of the room's routers (once). */
  #pipe(track: SoupTrack, router: Router): Promise<void> {
    let routers = this.#piped.get(track.producer.id);
    if (!routers) this.#piped.set(track.producer.id, (routers = new Map()));
    let piping = routers.get(router);
    if (!piping) {
      piping = this.router.pipeToRouter({ producerId: track.producer.id, router }).then(() => undefined);
      routers.set(router, piping);
      piping.catch(() => routers.delete(router));
      track.producer.observer.once('close', () => this.#piped.delete(track.producer.id));
    }
    return piping;
  }

  /**
   * The worker of one of the room's extra routers died: its viewers are told their receiving
   * connection failed (they make a fresh one, on a running worker); the room goes on.
   */
  routerDied(router: Router, reason: string): number {
    const index = this.#routers.indexOf(router);
    if (index > 0) this.#routers.splice(index, 1);
    for (const routers of this.#piped.values()) routers.delete(router);
    const told: string[] = [];
    for (const [userId, subscriber] of [...this.#subscribers]) {
      if (subscriber.router !== router) continue;
      this.#dropSubscriber(userId, subscriber);
      told.push(userId);
    }
    for (const userId of told) {
      this.#host.emit('failure', { roomId: this.id, userId, role: 'subscriber', error: new MediaError('closed', `The media worker serving part of room "${this.id}" stopped (${reason}); connect again.`) });
    }
    this.#checkEmpty();
    return told.length;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  get isEmpty(): boolean {
    return this.#publishers.size === 0 && this.#subscribers.size === 0;
  }

  has(userId: string): { publisher: boolean; subscriber: boolean } {
    return { publisher: this.#publishers.has(userId), subscriber: this.#subscribers.has(userId) };
  }

  tracks(): PublishedTrackInfo[] {
    return this.#allTracks().map((track) => ({ ...track.info }));
  }

  subscribedTracks(userId: string): SubscribedTrackInfo[] {
    const subscriber = this.#subscribers.get(userId);
    if (!subscriber) return [];
    return [...subscriber.forwards.values()].filter((forward) => !forward.consumer.closed).map((forward) => ({ ...forward.track.info, mid: forward.mid }));
  }

  findTrack(trackId: string): SoupTrack | undefined {
    return this.#allTracks().find((track) => track.info.id === trackId);
  }

  requestKeyframe(trackId: string): boolean {
    const track = this.findTrack(trackId);
    if (!track || track.info.kind !== 'video') return false;
    track.requestKeyframe();
    return true;
  }

  counts(): { publishers: number; subscribers: number; tracks: number; forwards: number; peers: number } {
    let forwards = 0;
    for (const subscriber of this.#subscribers.values()) for (const forward of subscriber.forwards.values()) if (!forward.consumer.closed) forwards++;
    return { publishers: this.#publishers.size, subscribers: this.#subscribers.size, tracks: this.#allTracks().length, forwards, peers: this.#publishers.size + this.#subscribers.size };
  }

  /** Producers and consumers, for the counters (engine.ts reads their stats now and then). */
  *mediaObjects(): Generator<{ kind: 'producer'; producer: Producer } | { kind: 'consumer'; consumer: Consumer }> {
    for (const track of this.#allTracks()) yield { kind: 'producer', producer: track.producer };
    for (const subscriber of this.#subscribers.values()) for (const forward of subscriber.forwards.values()) if (!forward.consumer.closed) yield { kind: 'consumer', consumer: forward.consumer };
  }

  async publish(userId: string, offerSdp: string): Promise<string> {
    this.#assertOpen();
    const offer = readPublishOffer(checkSdp(offerSdp, 'publish offer'), this.router.rtpCapabilities, this.#host.videoCodecs);
    if (!offer.sections.some((section) => section.kind === 'audio' || section.kind === 'video')) throw new MediaError('invalid-sdp', 'The publish offer has no audio or video section.');
    const created = !this.#publishers.has(userId);
    const current = await this.#open(userId, 'publisher', this.#publishers, async (transport, timeout, state) => {
      const publisher = new Publisher(transport, this.#host.connectTimeoutMs, timeout, state);
      await transport.setMaxIncomingBitrate(this.#host.maxIncomingBitrate).catch(noop);
      return publisher;
    });
    return current.chain.run(async () => {
      if (current.closed) throw this.#closedError(userId);
      try {
        if (!current.dtlsSet) {
          await current.transport.connect({ dtlsParameters: offer.dtls });
          current.dtlsSet = true;
        }
        // The browser restarted ICE (a new network): we answer with fresh credentials of our own.
        if (current.iceUfrag !== undefined && current.iceUfrag !== offer.iceUfrag) await current.transport.restartIce();
        current.iceUfrag = offer.iceUfrag;
      } catch (error) {
        if (created) this.#dropPublisher(userId, current);
        if (current.closed) throw this.#closedError(userId);
        throw new MediaError('invalid-sdp', `The publish offer was refused: ${describeCause(error)}.`, { cause: error });
      }
      const answered: AnsweredSection[] = [];
      let changed = false;
      const live = new Set<string>();
      for (const section of offer.sections) {
        const known = current.tracks.get(section.mid);
        if (known && (!section.rtpParameters || known.identity !== section.identity)) {
          current.tracks.delete(section.mid);
          known.close();
          changed = true;
        }
        if (!section.rtpParameters || (section.kind !== 'audio' && section.kind !== 'video')) {
          answered.push({ offered: section });
          continue;
        }
        live.add(section.mid);
        const kept = current.tracks.get(section.mid);
        if (kept) {
          answered.push({ offered: section, rtpParameters: kept.producer.rtpParameters });
          continue;
        }
        try {
          const producer = await current.transport.produce({ kind: section.kind, rtpParameters: section.rtpParameters, keyFrameRequestDelay: this.#host.keyframeIntervalMs });
          const codec = section.rtpParameters.codecs[0]!;
          const info: PublishedTrackInfo = { id: `${userId}:${section.mid}`, userId, kind: section.kind as TrackKind, codec: codecName(codec.mimeType) };
          if (section.streamId) info.streamId = section.streamId;
          if (section.trackId) info.trackId = section.trackId;
          current.tracks.set(section.mid, new SoupTrack(info, producer, section.identity, this.router, this.#host.counters, this.#host.keyframeIntervalMs));
          answered.push({ offered: section, rtpParameters: section.rtpParameters });
          changed = true;
        } catch (error) {
          if (current.closed) throw this.#closedError(userId);
          // mediasoup refused this m-line's parameters: the browser is told by a port 0 answer.
          answered.push({ offered: { ...section, refused: `refused by the media server: ${describeCause(error)}` } });
        }
      }
      for (const [mid, track] of current.tracks) {
        if (live.has(mid)) continue;
        current.tracks.delete(mid);
        track.close();
        changed = true;
      }
      if (created && current.tracks.size === 0) {
        this.#dropPublisher(userId, current);
        throw new MediaError('invalid-sdp', `The publish offer has no audio or video track the server can receive (it needs Opus audio or ${this.#host.videoCodecs.join(' or ')} video, sent by the browser).`);
      }
      if (current.closed) throw this.#closedError(userId);
      const answer = writePublishAnswer(offer, answered, current.local(), ++current.version);
      if (changed) this.#tracksChanged();
      return this.#host.finishSdp(answer);
    });
  }

  /** Creates (or refreshes) the user's receiving connection; `iceRestart`: with fresh ICE credentials (its path was lost). */
  async subscribe(userId: string, iceRestart = false): Promise<string> {
    this.#assertOpen();
    const current = await this.#open(userId, 'subscriber', this.#subscribers, async (transport, timeout, state) => new Subscriber(transport, this.#host.connectTimeoutMs, timeout, state), () => this.#routerForSubscriber());
    return current.chain.run(async () => {
      if (current.closed) throw this.#closedError(userId);
      if (iceRestart && current.dtlsSet) await current.transport.restartIce();
      await this.#syncForwards(userId, current);
      return this.#host.finishSdp(this.#offer(current));
    });
  }

  async acceptAnswer(userId: string, answerSdp: string): Promise<void> {
    this.#assertOpen();
    const subscriber = this.#subscribers.get(userId);
    if (!subscriber) throw new MediaError('not-found', `User "${userId}" has not subscribed in room "${this.id}": call subscribe() first.`);
    const sdp = checkSdp(answerSdp, 'subscribe answer', true);
    await subscriber.chain.run(async () => {
      if (subscriber.closed) throw this.#closedError(userId);
      if (!subscriber.offered) throw new MediaError('wrong-state', `There is no offer waiting for user "${userId}"'s answer.`);
      const answer = readSubscribeAnswer(sdp);
      for (const section of subscriber.sections) {
        if (section.rtpParameters && !answer.mids.has(section.mid)) throw new MediaError('invalid-sdp', `The subscribe answer does not answer m-line "${section.mid}" of the offer.`);
      }
      if (!subscriber.dtlsSet && answer.dtls.fingerprints.length > 0) {
        try {
          await subscriber.transport.connect({ dtlsParameters: answer.dtls });
        } catch (error) {
          if (subscriber.closed) throw this.#closedError(userId);
          throw new MediaError('invalid-sdp', `The subscribe answer was refused: ${describeCause(error)}.`, { cause: error });
        }
        subscriber.dtlsSet = true;
      }
      subscriber.offered = false;
      for (const [trackId, forward] of [...subscriber.forwards]) {
        if (answer.refused.has(forward.mid)) {
          // The browser cannot decode this codec: it does not get the track (nothing else changes).
          this.#closeForward(subscriber, trackId, forward);
          this.#host.emit('codec-refused', { roomId: this.id, userId, trackId, codec: forward.track.info.codec ?? 'unknown' });
        } else if (forward.consumer.paused) {
          // Resuming a video consumer asks its producer for a keyframe (a new receiver shows nothing until one).
          if (forward.consumer.kind === 'video') this.#host.counters.keyframeRequests++;
          await forward.consumer.resume().catch(noop);
        }
      }
      if (subscriber.dirty) {
        subscriber.dirty = false;
        this.#renegotiate(userId, subscriber);
      }
    });
  }

  async unpublish(userId: string): Promise<void> {
    const publisher = this.#publishers.get(userId);
    if (publisher) this.#dropPublisher(userId, publisher);
    this.#checkEmpty();
  }

  async unsubscribe(userId: string): Promise<void> {
    const subscriber = this.#subscribers.get(userId);
    if (subscriber) this.#dropSubscriber(userId, subscriber);
    this.#checkEmpty();
  }

  async leave(userId: string): Promise<void> {
    const subscriber = this.#subscribers.get(userId);
    if (subscriber) this.#dropSubscriber(userId, subscriber);
    const publisher = this.#publishers.get(userId);
    if (publisher) this.#dropPublisher(userId, publisher);
    this.#checkEmpty();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const [userId, subscriber] of [...this.#subscribers]) this.#dropSubscriber(userId, subscriber);
    for (const [userId, publisher] of [...this.#publishers]) this.#dropPublisher(userId, publisher);
    this.#closeRouters();
    this.#host.roomEmpty(this);
  }

  #closeRouters(): void {
    for (const router of this.#routers.splice(0)) {
      if (!router.closed) router.close();
      if (router !== this.router) this.#host.routerClosed(this, router);
    }
    this.#piped.clear();
  }

  /**
   * The worker under this room died: every connection is gone. Each participant is told its
   * connections failed (the widget makes fresh ones, on a running worker), the recorders'
   * listeners hear their tracks closed, and the room is forgotten. Returns how many were told.
   */
  workerDied(reason: string): number {
    if (this.#closed) return 0;
    this.#closed = true;
    const told: Array<[string, 'publisher' | 'subscriber']> = [];
    for (const [userId, subscriber] of [...this.#subscribers]) {
      this.#dropSubscriber(userId, subscriber);
      told.push([userId, 'subscriber']);
    }
    for (const [userId, publisher] of [...this.#publishers]) {
      this.#dropPublisher(userId, publisher);
      told.push([userId, 'publisher']);
    }
    this.#closeRouters();
    this.#host.roomEmpty(this);
    for (const [userId, role] of told) {
      this.#host.emit('failure', { roomId: this.id, userId, role, error: new MediaError('closed', `The media worker serving room "${this.id}" stopped (${reason}); connect again.`) });
    }
    return told.length;
  }

  /** The user's connection of this role: the one it has, the one being opened, or a new one. */
  async #open<C extends Connection>(userId: string, role: 'publisher' | 'subscriber', map: Map<string, C>, make: (transport: WebRtcTransport, onTimeout: () => void, onState: (state: string) => void) => Promise<C>, where: () => Promise<Router> = async () => this.router): Promise<C> {
    const known = map.get(userId);
    if (known) return known;
    const key = `${role}:${userId}`;
    const pending = this.#opening.get(key) as Promise<C> | undefined;
    if (pending) return pending;
    const opening = where().then((router) => this.#connection(userId, role, make, router)).then((connection) => {
      if (this.#closed) {
        connection.close();
        throw this.#closedError(userId);
      }
      map.set(userId, connection);
      return connection;
    });
    this.#opening.set(key, opening);
    try {
      return await opening;
    } finally {
      this.#opening.delete(key);
    }
  }

  async #connection<C extends Connection>(userId: string, role: 'publisher' | 'subscriber', make: (transport: WebRtcTransport, onTimeout: () => void, onState: (state: string) => void) => Promise<C>, router: Router): Promise<C> {
    let transport: WebRtcTransport;
    try {
      transport = await router.createWebRtcTransport(this.#host.transportOptions());
    } catch (error) {
      if (this.#closed || this.router.closed) throw this.#closedError(userId);
      throw new MediaError('closed', `No connection could be opened for user "${userId}": ${describeCause(error)}.`, { cause: error });
    }
    const timeoutMs = this.#host.connectTimeoutMs;
    let connection: C | undefined;
    const timedOut = () => {
      const error = new MediaError('timeout', `User "${userId}"'s ${role === 'publisher' ? 'sending' : 'receiving'} connection did not connect within ${Math.round(timeoutMs / 1000)} s (ICE or DTLS never completed), so it was closed.`);
      if (role === 'publisher') {
        const publisher = this.#publishers.get(userId);
        if (publisher && publisher === (connection as unknown)) this.#dropPublisher(userId, publisher);
      } else {
        const subscriber = this.#subscribers.get(userId);
        if (subscriber && subscriber === (connection as unknown)) this.#dropSubscriber(userId, subscriber);
      }
      this.#checkEmpty();
      this.#host.emit('failure', { roomId: this.id, userId, role, error });
    };
    try {
      connection = await make(transport, timedOut, (state) => this.#host.emit('connection-state', { roomId: this.id, userId, role, state }));
      connection.router = router;
    } catch (error) {
      transport.close();
      throw error;
    }
    return connection;
  }

  #allTracks(): SoupTrack[] {
    return [...this.#publishers.values()].flatMap((publisher) => [...publisher.tracks.values()]);
  }

  /** Adds a consumer for each track published by others, closes those whose track is gone. True if anything changed. */
  async #syncForwards(userId: string, subscriber: Subscriber): Promise<boolean> {
    let changed = false;
    const wanted = new Map(this.#allTracks().filter((track) => track.info.userId !== userId).map((track) => [track.info.id, track]));
    for (const [trackId, forward] of [...subscriber.forwards]) {
      if (wanted.get(trackId) === forward.track && !forward.consumer.closed) continue;
      this.#closeForward(subscriber, trackId, forward);
      changed = true;
    }
    const capabilities = browserCapabilities(this.router.rtpCapabilities) as RtpCapabilities;
    for (const [trackId, track] of wanted) {
      if (subscriber.forwards.has(trackId) || track.producer.closed) continue;
      const mid = String(subscriber.nextMid++);
      let consumer: Consumer;
      try {
        if (subscriber.router !== this.router) await this.#pipe(track, subscriber.router);
        consumer = await subscriber.transport.consume({ producerId: track.producer.id, rtpCapabilities: capabilities, paused: true, mid });
      } catch (error) {
        if (subscriber.closed) throw this.#closedError(userId);
        // The producer closed meanwhile: the next sync drops it.
        if (track.producer.closed) continue;
        throw new MediaError('wrong-state', `Track "${trackId}" could not be sent to user "${userId}": ${describeCause(error)}.`, { cause: error });
      }
      subscriber.forwards.set(trackId, { track, consumer, mid });
      track.consumers.add(consumer);
      consumer.observer.once('close', () => track.consumers.delete(consumer));
      subscriber.sections.push({ mid, kind: track.info.kind, rtpParameters: consumer.rtpParameters, streamId: msidToken(`${track.info.userId}~${track.info.streamId ?? 'media'}`), trackId: msidToken(track.info.id) });
      changed = true;
    }
    return changed;
  }

  #closeForward(subscriber: Subscriber, trackId: string, forward: Forward): void {
    subscriber.forwards.delete(trackId);
    if (!forward.consumer.closed) forward.consumer.close();
    const section = subscriber.sections.find((s) => s.mid === forward.mid);
    if (section) delete section.rtpParameters;
  }

  #offer(subscriber: Subscriber): string {
    subscriber.offered = true;
    return writeSubscribeOffer(subscriber.sections, subscriber.local(), ++subscriber.version);
  }

  #tracksChanged(): void {
    this.#host.emit('tracks', { roomId: this.id, tracks: this.tracks() });
    for (const [userId, subscriber] of this.#subscribers) this.#renegotiate(userId, subscriber);
  }

  /** Offers the subscriber its new set of tracks, if it changed; the offer goes out as an event. */
  #renegotiate(userId: string, subscriber: Subscriber): void {
    subscriber.chain
      .run(async () => {
        if (subscriber.closed || this.#closed) return;
        if (subscriber.offered) {
          subscriber.dirty = true;
          return;
        }
        if (!(await this.#syncForwards(userId, subscriber)) || subscriber.closed) return;
        const offerSdp = this.#host.finishSdp(this.#offer(subscriber));
        this.#host.emit('renegotiate', { roomId: this.id, userId, offerSdp, tracks: this.subscribedTracks(userId) });
      })
      .catch((error: unknown) => {
        if (subscriber.closed) return;
        const failure = error instanceof MediaError ? error : new MediaError('wrong-state', `Renegotiating user "${userId}"'s subscription failed: ${describeCause(error)}.`, { cause: error });
        this.#host.emit('failure', { roomId: this.id, userId, role: 'subscriber', error: failure });
      });
  }

  #dropPublisher(userId: string, publisher: Publisher): void {
    if (this.#publishers.get(userId) === publisher) this.#publishers.delete(userId);
    const removed = [...publisher.tracks.values()];
    publisher.tracks.clear();
    for (const track of removed) track.close();
    publisher.close();
    if (removed.length > 0 && !this.#closed) this.#tracksChanged();
    else if (removed.length > 0) this.#host.emit('tracks', { roomId: this.id, tracks: this.tracks() });
  }

  #dropSubscriber(userId: string, subscriber: Subscriber): void {
    if (this.#subscribers.get(userId) === subscriber) this.#subscribers.delete(userId);
    subscriber.forwards.clear();
    subscriber.close();
  }

  /** Closes the room (its router) if nobody has or is opening a connection in it. */
  closeIfEmpty(): void {
    this.#checkEmpty();
  }

  #checkEmpty(): void {
    if (this.isEmpty && this.#opening.size === 0 && !this.#closed) {
      this.#closed = true;
      this.#closeRouters();
      this.#host.roomEmpty(this);
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new MediaError('closed', `Room "${this.id}" is closed.`);
  }

  #closedError(userId: string): MediaError {
    return new MediaError('closed', `User "${userId}" left room "${this.id}" (or it closed) before the negotiation finished.`);
  }
}

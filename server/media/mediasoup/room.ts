// One room on the mediasoup engine: a router on one worker; per participant at most one sending
// WebRtcTransport (its producers, one per m-line of the browser's offer) and one receiving
// WebRtcTransport (a consumer per track others publish, one m-line each in our offer). SDP is
// translated in sdp.ts; this file drives mediasoup. Each connection's negotiation steps run one
// after another; the room's own state changes (a publisher's tracks) renegotiate its subscribers.
import type { EventEmitter } from 'node:events';
import type { Consumer, Router, RtpCapabilities, WebRtcTransport, WebRtcTransportOptions } from 'mediasoup/types';
import type { MediaRoomView } from '../engine.ts';
import { describeCause, MediaError } from '../errors.ts';
import { checkSdp, codecName } from '../sdp.ts';
import type { Counters, MediaServerEvents, PublishedTrackInfo, RoomCounts, SubscribedTrackInfo, VideoCodec } from '../types.ts';
import { Publisher, Subscriber, type Connection, type ConnectionClass } from './connection.ts';
import type { CountedObject } from './counters.ts';
import { OneAtATime } from './one-at-a-time.ts';
import { RoomRouters } from './routers.ts';
import { browserCapabilities, readPublishOffer, readSubscribeAnswer, writePublishAnswer } from './sdp.ts';
import { SoupTrack } from './track.ts';

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

export class SoupRoom implements MediaRoomView {
  readonly id: string;
  readonly router: Router;
  readonly #host: RoomHost;
  readonly #publishers = new Map<string, Publisher>();
  readonly #subscribers = new Map<string, Subscriber>();
  /** Connections being opened (a second call for the same user waits for the first). */
  readonly #opening = new OneAtATime<string, Connection>();
  /** The routers the room spans: this.router, its home, and one per further worker serving viewers. */
  readonly #routers: RoomRouters;
  #closed = false;

  constructor(id: string, router: Router, host: RoomHost) {
    this.id = id;
    this.router = router;
    this.#host = host;
    this.#routers = new RoomRouters(router);
  }

  /** Connections this room has on a router (its worker's load). */
  connectionsOn(router: Router): number {
    let count = router === this.router ? this.#publishers.size : 0;
    for (const subscriber of this.#subscribers.values()) if (subscriber.router === router) count++;
    return count;
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

  counts(): RoomCounts {
    let forwards = 0;
    for (const subscriber of this.#subscribers.values()) for (const forward of subscriber.forwards.values()) if (!forward.consumer.closed) forwards++;
    return { publishers: this.#publishers.size, subscribers: this.#subscribers.size, tracks: this.#allTracks().length, forwards };
  }

  /** WebRTC connections (sending and receiving) in the room. */
  get connectionCount(): number {
    return this.#publishers.size + this.#subscribers.size;
  }

  /** Producers and consumers, whose statistics hold the packet counters (counters.ts). */
  *mediaObjects(): Generator<CountedObject> {
    for (const track of this.#allTracks()) yield { kind: 'producer', producer: track.producer };
    for (const subscriber of this.#subscribers.values()) for (const forward of subscriber.forwards.values()) if (!forward.consumer.closed) yield { kind: 'consumer', consumer: forward.consumer };
  }

  async publish(userId: string, offerSdp: string): Promise<string> {
    this.#assertOpen();
    const offer = readPublishOffer(checkSdp(offerSdp, 'publish offer'), this.router.rtpCapabilities, this.#host.videoCodecs);
    if (!offer.sections.some((section) => section.kind === 'audio' || section.kind === 'video')) throw new MediaError('invalid-sdp', 'The publish offer has no audio or video section.');
    const created = !this.#publishers.has(userId);
    const current = await this.#open(userId, 'publisher', this.#publishers, Publisher);
    return current.chain.run(async () => {
      if (current.closed) throw this.#closedError(userId);
      try {
        if (!current.dtlsSet) {
          await current.transport.setMaxIncomingBitrate(this.#host.maxIncomingBitrate).catch(noop);
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
      const { answered, changed } = await current
        .apply(offer.sections, async (section, rtpParameters) => {
          const producer = await current.transport.produce({ kind: rtpParameters.kind, rtpParameters: rtpParameters.parameters, keyFrameRequestDelay: this.#host.keyframeIntervalMs });
          const info: PublishedTrackInfo = { id: `${userId}:${section.mid}`, userId, kind: rtpParameters.kind, codec: codecName(rtpParameters.parameters.codecs[0]!.mimeType) };
          if (section.streamId) info.streamId = section.streamId;
          if (section.trackId) info.trackId = section.trackId;
          return new SoupTrack(info, producer, section.identity, this.router, this.#host.counters, this.#host.keyframeIntervalMs);
        })
        .catch((error: unknown) => {
          throw current.closed ? this.#closedError(userId) : error;
        });
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
    const viewersOn = (router: Router) => [...this.#subscribers.values()].filter((s) => s.router === router).length;
    const extra = async (used: readonly Router[]) => (this.#closed ? undefined : this.#host.extraRouter(this, used));
    const current = await this.#open(userId, 'subscriber', this.#subscribers, Subscriber, () => this.#routers.forViewer(viewersOn, this.#host.subscribersPerRouter, extra));
    return current.chain.run(async () => {
      if (current.closed) throw this.#closedError(userId);
      if (iceRestart && current.dtlsSet) await current.transport.restartIce();
      await this.#syncForwards(userId, current);
      return this.#host.finishSdp(current.offer());
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
      // The browser cannot decode a refused track's codec: it does not get that track (nothing else changes).
      this.#host.counters.keyframeRequests += await subscriber.answered(answer.refused, (trackId, codec) => this.#host.emit('codec-refused', { roomId: this.id, userId, trackId, codec }));
      if (subscriber.dirty) {
        subscriber.dirty = false;
        this.#renegotiate(userId, subscriber);
      }
    });
  }

  async unpublish(userId: string): Promise<void> {
    this.#drop(userId, { publisher: true });
  }

  async unsubscribe(userId: string): Promise<void> {
    this.#drop(userId, { subscriber: true });
  }

  async leave(userId: string): Promise<void> {
    this.#drop(userId, { subscriber: true, publisher: true });
  }

  /** Closes the user's connections of these kinds, then the room if that emptied it. */
  #drop(userId: string, which: { publisher?: boolean; subscriber?: boolean }): void {
    const subscriber = which.subscriber ? this.#subscribers.get(userId) : undefined;
    if (subscriber) this.#dropSubscriber(userId, subscriber);
    const publisher = which.publisher ? this.#publishers.get(userId) : undefined;
    if (publisher) this.#dropPublisher(userId, publisher);
    this.closeIfEmpty();
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
    this.#routers.closeAll((router) => this.#host.routerClosed(this, router));
  }

  /**
   * The worker under one of the room's routers died. Under its home router every connection is
   * gone and the room closes; under another, only the viewers that router served. Each participant
   * who lost a connection is told it failed (the widget makes a fresh one, on a running worker).
   * Answers how many connections were lost.
   */
  workerDied(router: Router, reason: string): number {
    if (this.#closed) return 0;
    const home = router === this.router;
    if (home) this.#closed = true;
    const lost: Array<[string, 'publisher' | 'subscriber']> = [];
    for (const [userId, subscriber] of [...this.#subscribers]) {
      if (!home && subscriber.router !== router) continue;
      this.#dropSubscriber(userId, subscriber);
      lost.push([userId, 'subscriber']);
    }
    if (home) {
      for (const [userId, publisher] of [...this.#publishers]) {
        this.#dropPublisher(userId, publisher);
        lost.push([userId, 'publisher']);
      }
      this.#closeRouters();
      this.#host.roomEmpty(this);
    } else {
      this.#routers.remove(router);
    }
    for (const [userId, role] of lost) {
      this.#host.emit('failure', { roomId: this.id, userId, role, error: new MediaError('closed', `The media worker serving ${home ? '' : 'part of '}room "${this.id}" stopped (${reason}); connect again.`) });
    }
    this.closeIfEmpty();
    return lost.length;
  }

  /** The user's connection of this role: the one it has, the one being opened, or a new one on `where()`'s router. */
  async #open<C extends Connection>(userId: string, role: 'publisher' | 'subscriber', map: Map<string, C>, Kind: ConnectionClass<C>, where: () => Promise<Router> = async () => this.router): Promise<C> {
    const known = map.get(userId);
    if (known) return known;
    const opening = this.#opening.run(`${role}:${userId}`, async () => {
      const router = await where();
      let transport: WebRtcTransport;
      try {
        transport = await router.createWebRtcTransport(this.#host.transportOptions());
      } catch (error) {
        if (this.#closed || router.closed) throw this.#closedError(userId);
        throw new MediaError('closed', `No connection could be opened for user "${userId}": ${describeCause(error)}.`, { cause: error });
      }
      if (this.#closed) {
        transport.close();
        throw this.#closedError(userId);
      }
      const connection: C = new Kind(transport, router, this.#host.connectTimeoutMs, () => this.#timedOut(userId, role, connection), (state) =>
        this.#host.emit('connection-state', { roomId: this.id, userId, role, state }),
      );
      map.set(userId, connection);
      return connection;
    });
    return (await opening) as C;
  }

  /** A connection that did not complete ICE and DTLS in time: it is closed, and its owner told. */
  #timedOut(userId: string, role: 'publisher' | 'subscriber', connection: Connection): void {
    if (connection instanceof Publisher && this.#publishers.get(userId) === connection) this.#dropPublisher(userId, connection);
    else if (connection instanceof Subscriber && this.#subscribers.get(userId) === connection) this.#dropSubscriber(userId, connection);
    else return;
    this.closeIfEmpty();
    const seconds = Math.round(this.#host.connectTimeoutMs / 1000);
    const error = new MediaError('timeout', `User "${userId}"'s ${role === 'publisher' ? 'sending' : 'receiving'} connection did not connect within ${seconds} s (ICE or DTLS never completed), so it was closed.`);
    this.#host.emit('failure', { roomId: this.id, userId, role, error });
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
      subscriber.closeForward(trackId, forward);
      changed = true;
    }
    const capabilities = browserCapabilities(this.router.rtpCapabilities) as RtpCapabilities;
    for (const [trackId, track] of wanted) {
      if (subscriber.forwards.has(trackId) || track.producer.closed) continue;
      const mid = String(subscriber.nextMid++);
      let consumer: Consumer;
      try {
        if (subscriber.router !== this.router) await this.#routers.pipe(track.producer, subscriber.router);
        consumer = await subscriber.transport.consume({ producerId: track.producer.id, rtpCapabilities: capabilities, paused: true, mid });
      } catch (error) {
        if (subscriber.closed) throw this.#closedError(userId);
        // The producer closed meanwhile: the next sync drops it.
        if (track.producer.closed) continue;
        throw new MediaError('wrong-state', `Track "${trackId}" could not be sent to user "${userId}": ${describeCause(error)}.`, { cause: error });
      }
      subscriber.addForward(track, consumer, mid);
      changed = true;
    }
    return changed;
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
        const offerSdp = this.#host.finishSdp(subscriber.offer());
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
    if (removed.length > 0) this.#tracksChanged();
  }

  #dropSubscriber(userId: string, subscriber: Subscriber): void {
    if (this.#subscribers.get(userId) === subscriber) this.#subscribers.delete(userId);
    subscriber.forwards.clear();
    subscriber.close();
  }

  /** Closes the room (its routers) if nobody has or is opening a connection in it. */
  closeIfEmpty(): void {
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

// A room: everything published in it is forwarded to everyone subscribed in it (but the
// publisher); subscribers are renegotiated when the room's tracks change.
import type { RTCPeerConnectionConfig } from 'werift';
import { sendEstimate, targetBitrate, type BitrateLimits } from './bandwidth.ts';
import { describeCause, MediaError } from './errors.ts';
import { acceptSubscribeAnswer, dropForward, dropTrack, makeSubscribeOffer, requestKeyframes, subscribedTracks, subscribeOffer, syncForwards } from './forwarding.ts';
import { codecName, Peer, PublishedTrack, Publisher, Subscriber } from './peers.ts';
import { checkSdp, keepOneVideoCodec, mediaKinds } from './sdp.ts';
import { useKeyObjects } from './srtp-keys.ts';
import type { MediaServer } from './server.ts';
import type { Counters, PublishedTrackInfo, SubscribedTrackInfo, VideoCodec } from './types.ts';
import type { RemoteSubscribers } from './worker-pool.ts';

/** A room: everything published in it is forwarded to everyone subscribed in it (but the publisher). */
export class MediaRoom {
  private readonly publishers = new Map<string, Publisher>();
  private readonly subscribers = new Map<string, Subscriber>();
  private closed = false;
  readonly id: string;
  private readonly server: MediaServer;
  private readonly host: RoomHost;
  /** The room's subscribers when worker threads serve them (then `subscribers` stays empty). */
  private readonly remote: RemoteSubscribers | undefined;

  constructor(id: string, server: MediaServer, host: RoomHost) {
    this.id = id;
    this.server = server;
    this.host = host;
    this.remote = host.remoteSubscribers?.(id);
  }

  /** Sizes, for MediaServer.stats() (which also brings each published track's loss count up to date). */
  counts(): { publishers: number; subscribers: number; tracks: number; forwards: number } {
    let tracks = 0;
    let forwards = 0;
    for (const publisher of this.publishers.values()) {
      tracks += publisher.tracks.size;
      for (const track of publisher.tracks.values()) track.noteLoss();
    }
    for (const subscriber of this.subscribers.values()) forwards += subscriber.forwards.size;
    const remote = this.remote?.counts() ?? { subscribers: 0, forwards: 0 };
    return { publishers: this.publishers.size, subscribers: this.subscribers.size + remote.subscribers, tracks, forwards: forwards + remote.forwards };
  }

  /** Asks each publisher for the video bitrate its receivers can take (a REMB each; see bandwidth.ts). */
  adaptBitrates(limits: BitrateLimits, now = Date.now()) {
    for (const [userId, publisher] of this.publishers) {
      if (publisher.peer.closed || publisher.peer.pc.connectionState !== 'connected') continue;
      const bps = targetBitrate(publisher, limits, now, this.remote?.lowestEstimate(userId, now));
      if (bps !== undefined) sendEstimate(publisher, bps);
    }
  }

  /** A published track by its id (`${userId}:${mid}`). */
  findTrack(trackId: string): PublishedTrack | undefined {
    for (const publisher of this.publishers.values()) for (const track of publisher.tracks.values()) if (track.info.id === trackId) return track;
    return undefined;
  }

  /** The video bitrate (bit/s) last asked of this publisher, if any. */
  requestedBitrate(userId: string): number | undefined {
    return this.publishers.get(userId)?.sentEstimate;
  }

  get isEmpty(): boolean {
    return this.publishers.size === 0 && this.subscribers.size === 0 && !this.remote?.size;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  tracks(): PublishedTrackInfo[] {
    const out: PublishedTrackInfo[] = [];
    for (const publisher of this.publishers.values()) for (const track of publisher.tracks.values()) out.push({ ...track.info });
    return out;
  }

  /** The tracks a subscriber's session carries, with their mids (after its latest offer). */
  subscribedTracks(userId: string): SubscribedTrackInfo[] {
    if (this.remote) return this.remote.subscribedTracks(userId);
    const subscriber = this.subscribers.get(userId);
    return subscriber ? subscribedTracks(subscriber) : [];
  }

  /** Asks the track's publisher for a keyframe (a viewer's picture froze), rate-limited as the server's own. False if no such video track. */
  requestKeyframe(trackId: string): boolean {
    for (const publisher of this.publishers.values()) {
      for (const track of publisher.tracks.values()) {
        if (track.info.id !== trackId || track.info.kind !== 'video') continue;
        track.requestKeyframe();
        return true;
      }
    }
    return false;
  }

  /** Applies the browser's offer for its sending connection (first or renegotiated) and returns our answer, all ICE candidates in it. */
  async publish(userId: string, offerSdp: string): Promise<string> {
    this.assertOpen();
    const sdp = keepOneVideoCodec(checkSdp(offerSdp, 'publish offer'), this.host.videoCodecs);
    if (!mediaKinds(sdp).some((kind) => kind === 'audio' || kind === 'video')) {
      throw new MediaError('invalid-sdp', 'The publish offer has no audio or video section.');
    }
    let publisher = this.publishers.get(userId);
    const created = !publisher;
    if (!publisher) {
      publisher = new Publisher(this.host.peerConfig());
      this.publishers.set(userId, publisher);
      this.host.peerOpened(publisher.peer);
      this.watchConnection(publisher.peer, userId, 'publisher');
    }
    const current = publisher;
    return current.peer.run(async () => {
      if (current.peer.closed) throw this.closedError(userId);
      const pc = current.peer.pc;
      try {
        await pc.setRemoteDescription({ type: 'offer', sdp });
      } catch (error) {
        if (created && current.tracks.size === 0) await this.dropPublisher(userId, current);
        throw new MediaError('invalid-sdp', `The publish offer was refused: ${describeCause(error)}.`, { cause: error });
      }
      let answerSdp: string;
      try {
        const answer = await pc.createAnswer();
        await pc.setLocalDescription(answer);
        answerSdp = pc.localDescription?.sdp ?? answer.sdp;
      } catch (error) {
        if (current.peer.closed) throw this.closedError(userId);
        if (created) await this.dropPublisher(userId, current);
        throw new MediaError('invalid-sdp', `No answer could be made to the publish offer: ${describeCause(error)}.`, { cause: error });
      }
      if (current.peer.closed) throw this.closedError(userId);
      current.peer.reapTransports();
      this.syncPublishedTracks(userId, current);
      if (created && current.tracks.size === 0) {
        await this.dropPublisher(userId, current);
        throw new MediaError('invalid-sdp', `The publish offer has no audio or video track the server can receive (it needs Opus audio or ${this.host.videoCodecs.join(' or ')} video, sent by the browser).`);
      }
      return this.host.finishSdp(answerSdp);
    });
  }

  /** Creates (or refreshes) the user's receiving connection; returns an offer of every track others publish. Answer: acceptAnswer(). */
  async subscribe(userId: string): Promise<string> {
    this.assertOpen();
    if (this.remote) return this.remote.subscribe(userId);
    let subscriber = this.subscribers.get(userId);
    if (!subscriber) {
      subscriber = new Subscriber(this.host.peerConfig());
      this.subscribers.set(userId, subscriber);
      this.host.peerOpened(subscriber.peer);
      this.watchConnection(subscriber.peer, userId, 'subscriber');
    }
    const current = subscriber;
    return current.peer.run(async () => this.host.finishSdp(await subscribeOffer(this.publishers, userId, current, () => this.closedError(userId))));
  }

  /** Applies the browser's answer to our latest subscribe (or renegotiate) offer. */
  async acceptAnswer(userId: string, answerSdp: string): Promise<void> {
    this.assertOpen();
    if (this.remote) return this.remote.acceptAnswer(userId, answerSdp);
    const subscriber = this.subscribers.get(userId);
    if (!subscriber) throw new MediaError('not-found', `User "${userId}" has not subscribed in room "${this.id}": call subscribe() first.`);
    const sdp = checkSdp(answerSdp, 'subscribe answer', true);
    await subscriber.peer.run(async () => {
      for (const forward of await acceptSubscribeAnswer(subscriber, userId, sdp, () => this.closedError(userId))) {
        this.server.emit('codec-refused', { roomId: this.id, userId, trackId: forward.track.info.id, codec: forward.track.info.codec ?? 'unknown' });
      }
      if (subscriber.dirty) {
        subscriber.dirty = false;
        this.renegotiate(userId, subscriber, true);
      }
    });
  }

  /** Closes only the user's publishing connection (a new publish starts a fresh one, e.g. after a network change). */
  async unpublish(userId: string): Promise<void> {
    const publisher = this.publishers.get(userId);
    if (publisher) await this.dropPublisher(userId, publisher);
  }

  /** Closes only the user's receiving connection; subscribe() again makes a fresh one. */
  async unsubscribe(userId: string): Promise<void> {
    await this.remote?.unsubscribe(userId);
    const subscriber = this.subscribers.get(userId);
    if (!subscriber) return this.remote && this.isEmpty ? this.host.roomEmpty(this) : undefined;
    this.subscribers.delete(userId);
    for (const forward of [...subscriber.forwards.values()]) dropForward(forward);
    await this.host.peerClosed(subscriber.peer);
    if (this.isEmpty) this.host.roomEmpty(this);
  }

  /** Whether the user has a publishing / receiving connection here. */
  has(userId: string): { publisher: boolean; subscriber: boolean } {
    return { publisher: this.publishers.has(userId), subscriber: this.subscribers.has(userId) || !!this.remote?.has(userId) };
  }

  /** Closes the user's connections; others stop receiving the user's tracks (with a renegotiation). */
  async leave(userId: string): Promise<void> {
    const publisher = this.publishers.get(userId);
    const subscriber = this.subscribers.get(userId);
    await this.remote?.unsubscribe(userId);
    if (subscriber) {
      this.subscribers.delete(userId);
      for (const forward of [...subscriber.forwards.values()]) dropForward(forward);
      await this.host.peerClosed(subscriber.peer);
    }
    if (publisher) await this.dropPublisher(userId, publisher);
    if (this.isEmpty) this.host.roomEmpty(this);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const users = new Set([...this.publishers.keys(), ...this.subscribers.keys(), ...(this.remote?.userIds() ?? [])]);
    this.closed = true;
    for (const userId of users) await this.leave(userId);
    this.host.roomEmpty(this);
  }

  private async dropPublisher(userId: string, publisher: Publisher) {
    if (this.publishers.get(userId) === publisher) this.publishers.delete(userId);
    const removed = [...publisher.tracks.values()];
    publisher.tracks.clear();
    for (const track of removed) dropTrack(track);
    await this.host.peerClosed(publisher.peer);
    if (removed.length > 0) this.tracksChanged();
    if (this.isEmpty) this.host.roomEmpty(this);
  }

  /** Compares the publisher's transceivers with its published tracks after each negotiation. */
  private syncPublishedTracks(userId: string, publisher: Publisher) {
    let changed = false;
    const active = new Set<string>();
    for (const transceiver of publisher.peer.pc.getTransceivers()) {
      const mid = transceiver.mid;
      if (mid == null || transceiver.stopped || transceiver.stopping) continue;
      const direction = transceiver.currentDirection;
      if (direction !== 'recvonly' && direction !== 'sendrecv') continue;
      if (transceiver.kind !== 'audio' && transceiver.kind !== 'video') continue;
      active.add(mid);
      const receiver = transceiver.receiver;
      const known = publisher.tracks.get(mid);
      if (known?.receiver === receiver) continue;
      if (known) dropTrack(known); // the m-line was reused for a new track
      const info: PublishedTrackInfo = { id: `${userId}:${mid}`, userId, kind: transceiver.kind };
      // One codec per track: the publish offer kept only one video codec (keepOneVideoCodec).
      const codec = transceiver.codecs.find((c) => c.name.toLowerCase() !== 'rtx');
      if (codec) info.codec = codecName(codec.mimeType);
      if (receiver.remoteStreamId) info.streamId = receiver.remoteStreamId;
      if (receiver.remoteTrackId) info.trackId = receiver.remoteTrackId;
      const track = new PublishedTrack(info, receiver, this.host.counters, this.host.keyframeIntervalMs);
      publisher.tracks.set(mid, track);
      changed = true;
    }
    for (const [mid, track] of publisher.tracks) {
      if (active.has(mid)) continue;
      publisher.tracks.delete(mid);
      dropTrack(track);
      changed = true;
    }
    if (changed) this.tracksChanged();
  }

  private tracksChanged() {
    this.server.emit('tracks', { roomId: this.id, tracks: this.tracks() });
    this.remote?.tracksChanged([...this.publishers.values()].flatMap((publisher) => [...publisher.tracks.values()]));
    for (const [userId, subscriber] of this.subscribers) this.renegotiate(userId, subscriber);
  }

  /** Offers the subscriber its new set of tracks, if it changed; the offer goes out as an event. */
  private renegotiate(userId: string, subscriber: Subscriber, force = false) {
    subscriber.peer
      .run(async () => {
        if (subscriber.peer.closed || this.closed) return;
        if (subscriber.peer.pc.signalingState !== 'stable') {
          subscriber.dirty = true;
          return;
        }
        // Forced: senders were added or stopped while the previous offer was out.
        if (!syncForwards(this.publishers, userId, subscriber) && !force) return;
        const offerSdp = this.host.finishSdp(await makeSubscribeOffer(subscriber, userId, () => this.closedError(userId)));
        if (subscriber.peer.closed) return;
        this.server.emit('renegotiate', { roomId: this.id, userId, offerSdp, tracks: this.subscribedTracks(userId) });
      })
      .catch((error: unknown) => {
        if (subscriber.peer.closed) return;
        const failure = error instanceof MediaError ? error : new MediaError('wrong-state', `Renegotiating user "${userId}"'s subscription failed: ${describeCause(error)}.`, { cause: error });
        this.server.emit('failure', { roomId: this.id, userId, role: 'subscriber', error: failure });
      });
  }

  private watchConnection(peer: Peer, userId: string, role: 'publisher' | 'subscriber') {
    // A browser that never completes ICE and DTLS (gone, blocked, or not a browser) is dropped.
    let connectTimer: NodeJS.Timeout | undefined = setTimeout(() => {
      connectTimer = undefined;
      if (peer.closed || peer.pc.connectionState === 'connected') return;
      const error = new MediaError('timeout', `User "${userId}"'s ${role === 'publisher' ? 'sending' : 'receiving'} connection did not connect within ${Math.round(this.host.connectTimeoutMs / 1000)} s (ICE or DTLS never completed), so it was closed.`);
      void this.dropPeerOf(userId, peer, role).then(() => this.server.emit('failure', { roomId: this.id, userId, role, error }));
    }, this.host.connectTimeoutMs);
    peer.onClose(() => clearTimeout(connectTimer));
    const { unSubscribe } = peer.pc.connectionStateChange.subscribe((state) => {
      if (peer.closed) return;
      if (state === 'connected' && connectTimer) {
        clearTimeout(connectTimer);
        connectTimer = undefined;
      }
      if (state === 'connected') useKeyObjects(peer.pc);
      if (role === 'subscriber' && state === 'connected') {
        const subscriber = this.subscribers.get(userId);
        if (subscriber?.peer === peer) requestKeyframes(subscriber);
      }
      this.server.emit('connection-state', { roomId: this.id, userId, role, state });
    });
    peer.onClose(unSubscribe);
  }

  /** Drops this peer if it is still the user's current one on that side. */
  private async dropPeerOf(userId: string, peer: Peer, role: 'publisher' | 'subscriber') {
    if (role === 'publisher') {
      const publisher = this.publishers.get(userId);
      if (publisher?.peer === peer) await this.dropPublisher(userId, publisher);
    } else if (this.subscribers.get(userId)?.peer === peer) {
      await this.unsubscribe(userId);
    }
  }

  private assertOpen() {
    if (this.closed) throw new MediaError('closed', `Room "${this.id}" is closed.`);
    // An emptied room is forgotten by the server; a caller still holding it brings it back.
    this.host.roomActive(this);
  }

  private closedError(userId: string) {
    return new MediaError('closed', `User "${userId}" left room "${this.id}" (or it closed) before the negotiation finished.`);
  }
}

/** What a room needs from its server (kept apart from the public API). */
export interface RoomHost {
  readonly counters: Counters;
  readonly keyframeIntervalMs: number;
  readonly connectTimeoutMs: number;
  /** Most wanted first (MediaServerOptions.videoCodecs). */
  readonly videoCodecs: readonly VideoCodec[];
  peerConfig(): RTCPeerConnectionConfig;
  peerOpened(peer: Peer): void;
  peerClosed(peer: Peer): Promise<void>;
  finishSdp(sdp: string): string;
  roomEmpty(room: MediaRoom): void;
  roomActive(room: MediaRoom): void;
  /** Set when subscriber workers serve the rooms' subscribers. */
  remoteSubscribers?(roomId: string): RemoteSubscribers;
}

// A room: everything published in it is forwarded to everyone subscribed in it (but the
// publisher). The room owns the publishing connections and their tracks; its subscribers (the
// Subscribers interface: in process, or in worker threads) are told whenever the tracks change.
import type { EventEmitter } from 'node:events';
import type { RTCPeerConnectionConfig } from 'werift';
import { sendEstimate, targetBitrate, type BitrateLimits } from './bandwidth.ts';
import { describeCause, MediaError } from './errors.ts';
import { dropTrack } from './forwarding.ts';
import { PublishedTrack, Publisher, watchConnection, type Peer } from './peers.ts';
import { checkSdp, codecName, keepOneVideoCodec, mediaKinds } from './sdp.ts';
import type { SubscriberReports, Subscribers } from './subscribers.ts';
import type { Counters, MediaServerEvents, PublishedTrackInfo, RoomCounts, SubscribedTrackInfo, VideoCodec } from './types.ts';

/** A room: everything published in it is forwarded to everyone subscribed in it (but the publisher). */
export class MediaRoom {
  private readonly publishers = new Map<string, Publisher>();
  private readonly subscribers: Subscribers;
  private closed = false;
  readonly id: string;
  private readonly host: RoomHost;

  constructor(id: string, host: RoomHost) {
    this.id = id;
    this.host = host;
    this.subscribers = host.subscribers(id, this.subscriberReports());
  }

  /** Sizes, for MediaServer.stats() (which also brings each published track's loss count up to date). */
  counts(): RoomCounts {
    let tracks = 0;
    for (const publisher of this.publishers.values()) {
      tracks += publisher.tracks.size;
      for (const track of publisher.tracks.values()) track.noteLoss();
    }
    const subscribers = this.subscribers.counts();
    return { publishers: this.publishers.size, subscribers: subscribers.subscribers, tracks, forwards: subscribers.forwards };
  }

  /** Asks each publisher for the video bitrate its receivers can take (a REMB each; see bandwidth.ts). */
  adaptBitrates(limits: BitrateLimits, now = Date.now()) {
    for (const [userId, publisher] of this.publishers) {
      if (publisher.peer.closed || publisher.peer.pc.connectionState !== 'connected') continue;
      const bps = targetBitrate(publisher, limits, this.subscribers.lowestEstimate(userId, now));
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
    return this.publishers.size === 0 && this.subscribers.size === 0;
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
    return this.subscribers.subscribedTracks(userId);
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
      this.watchPublisher(userId, publisher.peer);
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
    const { sdp } = await this.subscribers.subscribe(userId);
    return this.host.finishSdp(sdp);
  }

  /** Applies the browser's answer to our latest subscribe (or renegotiate) offer. */
  async acceptAnswer(userId: string, answerSdp: string): Promise<void> {
    this.assertOpen();
    await this.subscribers.acceptAnswer(userId, answerSdp);
  }

  /** Closes only the user's publishing connection (a new publish starts a fresh one, e.g. after a network change). */
  async unpublish(userId: string): Promise<void> {
    const publisher = this.publishers.get(userId);
    if (publisher) await this.dropPublisher(userId, publisher);
  }

  /** Closes only the user's receiving connection; subscribe() again makes a fresh one. */
  async unsubscribe(userId: string): Promise<void> {
    await this.subscribers.unsubscribe(userId);
    if (this.isEmpty) this.host.roomEmpty(this);
  }

  /** Whether the user has a publishing / receiving connection here. */
  has(userId: string): { publisher: boolean; subscriber: boolean } {
    return { publisher: this.publishers.has(userId), subscriber: this.subscribers.has(userId) };
  }

  /** Closes the user's connections; others stop receiving the user's tracks (with a renegotiation). */
  async leave(userId: string): Promise<void> {
    await this.subscribers.unsubscribe(userId);
    const publisher = this.publishers.get(userId);
    if (publisher) await this.dropPublisher(userId, publisher);
    if (this.isEmpty) this.host.roomEmpty(this);
  }

  /** Closes every connection in the room (subscribers first, then publishers); safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.subscribers.close();
    for (const [userId, publisher] of [...this.publishers]) await this.dropPublisher(userId, publisher);
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
    this.host.emit('tracks', { roomId: this.id, tracks: this.tracks() });
    this.subscribers.tracksChanged([...this.publishers.values()].flatMap((publisher) => [...publisher.tracks.values()]));
  }

  /** What the room's subscribers report, emitted from the server with the room's id. */
  private subscriberReports(): SubscriberReports {
    const { host, id: roomId } = this;
    return {
      renegotiate: (userId, offerSdp, tracks) => host.emit('renegotiate', { roomId, userId, offerSdp: host.finishSdp(offerSdp), tracks }),
      connectionState: (userId, state) => host.emit('connection-state', { roomId, userId, role: 'subscriber', state }),
      codecRefused: (userId, trackId, codec) => host.emit('codec-refused', { roomId, userId, trackId, codec }),
      failure: (userId, error, closed) => {
        if (closed && this.isEmpty) host.roomEmpty(this);
        host.emit('failure', { roomId, userId, role: 'subscriber', error });
      },
    };
  }

  /** A publishing connection that never completes ICE and DTLS is closed. */
  private watchPublisher(userId: string, peer: Peer) {
    const timeoutMs = this.host.connectTimeoutMs;
    watchConnection(
      peer,
      timeoutMs,
      () => {
        const error = new MediaError('timeout', `User "${userId}"'s sending connection did not connect within ${Math.round(timeoutMs / 1000)} s (ICE or DTLS never completed), so it was closed.`);
        const publisher = this.publishers.get(userId);
        const dropped = publisher?.peer === peer ? this.dropPublisher(userId, publisher) : Promise.resolve();
        void dropped.then(() => this.host.emit('failure', { roomId: this.id, userId, role: 'publisher', error }));
      },
      (state) => this.host.emit('connection-state', { roomId: this.id, userId, role: 'publisher', state }),
    );
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
  /** Emits one of the server's events (the room names itself in each). */
  readonly emit: EventEmitter<MediaServerEvents>['emit'];
  roomEmpty(room: MediaRoom): void;
  roomActive(room: MediaRoom): void;
  /** The room's subscriber side: in process (LocalSubscribers) or in the worker threads (RemoteSubscribers). */
  subscribers(roomId: string, reports: SubscriberReports): Subscribers;
}

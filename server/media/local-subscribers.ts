// A room's receiving connections, owned by the thread that runs this: the main thread (in-process
// mode, the room uses it directly) or a subscriber worker thread (subscriber-worker.ts, fed with
// the relayed packets and the room's tracks). Negotiation (the server offers, the browser answers),
// renegotiation when the room's tracks change, the connection timeout, keyframes on connect, and
// what the receivers say (REMB) all live here, once.
import type { RTCPeerConnectionConfig } from 'werift';
import { isFresh, type ReceiverEstimate } from './bandwidth.ts';
import { describeCause, MediaError } from './errors.ts';
import { acceptSubscribeAnswer, dropForward, makeSubscribeOffer, requestKeyframes, subscribedTracks, subscribeOffer, syncForwards } from './forwarding.ts';
import { Subscriber, watchConnection, type ForwardedTrack, type Peer } from './peers.ts';
import { checkSdp } from './sdp.ts';
import type { SubscriberOffer, SubscriberReports, Subscribers } from './subscribers.ts';
import type { SubscribedTrackInfo } from './types.ts';

/** What LocalSubscribers needs from the thread it runs in. */
export interface SubscriberSetup {
  readonly connectTimeoutMs: number;
  peerConfig(): RTCPeerConnectionConfig;
  /** A connection was made (the main thread counts them for stats().peers). */
  peerOpened(peer: Peer): void;
  /** Closes a connection made here. */
  peerClosed(peer: Peer): Promise<void>;
}

/** The room's published tracks by publisher (each subscriber is sent every track but its own). */
type TracksByPublisher = Map<string, { tracks: Map<string, ForwardedTrack> }>;

export class LocalSubscribers implements Subscribers {
  readonly roomId: string;
  private readonly setup: SubscriberSetup;
  private readonly reports: SubscriberReports;
  private readonly subscribers = new Map<string, Subscriber>();
  private publishers: TracksByPublisher = new Map();
  private closed = false;

  constructor(roomId: string, setup: SubscriberSetup, reports: SubscriberReports) {
    this.roomId = roomId;
    this.setup = setup;
    this.reports = reports;
  }

  get size(): number {
    return this.subscribers.size;
  }

  has(userId: string): boolean {
    return this.subscribers.has(userId);
  }

  userIds(): string[] {
    return [...this.subscribers.keys()];
  }

  subscribedTracks(userId: string): SubscribedTrackInfo[] {
    const subscriber = this.subscribers.get(userId);
    return subscriber ? subscribedTracks(subscriber) : [];
  }

  counts(): { subscribers: number; forwards: number } {
    let forwards = 0;
    for (const subscriber of this.subscribers.values()) forwards += subscriber.forwards.size;
    return { subscribers: this.subscribers.size, forwards };
  }

  lowestEstimate(publisherId: string, now: number): number {
    let lowest = Number.POSITIVE_INFINITY;
    for (const [userId, subscriber] of this.subscribers) {
      const estimate = subscriber.estimate;
      if (userId === publisherId || !isFresh(estimate, now) || estimate.bps >= lowest) continue;
      for (const { refused, track } of subscriber.forwards.values()) {
        if (refused || track.info.userId !== publisherId || track.info.kind !== 'video') continue;
        lowest = estimate.bps;
        break;
      }
    }
    return lowest;
  }

  /** Each subscriber's latest REMB (a worker posts them to the main thread). */
  *estimates(): Generator<[userId: string, estimate: ReceiverEstimate]> {
    for (const [userId, subscriber] of this.subscribers) if (subscriber.estimate) yield [userId, subscriber.estimate];
  }

  async subscribe(userId: string): Promise<SubscriberOffer> {
    if (this.closed) throw this.closedError(userId);
    let subscriber = this.subscribers.get(userId);
    if (!subscriber) {
      subscriber = new Subscriber(this.setup.peerConfig());
      this.subscribers.set(userId, subscriber);
      this.setup.peerOpened(subscriber.peer);
      this.watch(userId, subscriber);
    }
    const current = subscriber;
    return current.peer.run(async () => {
      const sdp = await subscribeOffer(this.publishers, userId, current, () => this.closedError(userId));
      return { sdp, tracks: subscribedTracks(current) };
    });
  }

  async acceptAnswer(userId: string, answerSdp: string): Promise<SubscribedTrackInfo[]> {
    const subscriber = this.subscribers.get(userId);
    if (!subscriber) throw new MediaError('not-found', `User "${userId}" has not subscribed in room "${this.roomId}": call subscribe() first.`);
    const sdp = checkSdp(answerSdp, 'subscribe answer', true);
    return subscriber.peer.run(async () => {
      for (const { track } of await acceptSubscribeAnswer(subscriber, userId, sdp, () => this.closedError(userId))) {
        this.reports.codecRefused(userId, track.info.id, track.info.codec ?? 'unknown');
      }
      if (subscriber.dirty) {
        subscriber.dirty = false;
        this.renegotiate(userId, subscriber, true);
      }
      return subscribedTracks(subscriber);
    });
  }

  async unsubscribe(userId: string): Promise<void> {
    const subscriber = this.subscribers.get(userId);
    if (subscriber) await this.drop(userId, subscriber);
  }

  /**
   * The room's tracks now. A track gone has already dropped its forwards (forwarding.ts dropTrack);
   * each subscriber is offered the new set.
   */
  tracksChanged(tracks: readonly ForwardedTrack[]): void {
    const publishers: TracksByPublisher = new Map();
    for (const track of tracks) {
      let publisher = publishers.get(track.info.userId);
      if (!publisher) publishers.set(track.info.userId, (publisher = { tracks: new Map() }));
      publisher.tracks.set(track.info.id, track);
    }
    this.publishers = publishers;
    if (this.closed) return;
    for (const [userId, subscriber] of this.subscribers) this.renegotiate(userId, subscriber);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const [userId, subscriber] of [...this.subscribers]) await this.drop(userId, subscriber);
  }

  private async drop(userId: string, subscriber: Subscriber) {
    if (this.subscribers.get(userId) === subscriber) this.subscribers.delete(userId);
    for (const forward of [...subscriber.forwards.values()]) dropForward(forward);
    await this.setup.peerClosed(subscriber.peer);
  }

  /** Offers the subscriber its new set of tracks, if it changed; the offer goes out as a report. */
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
        const offerSdp = await makeSubscribeOffer(subscriber, userId, () => this.closedError(userId));
        if (subscriber.peer.closed) return;
        this.reports.renegotiate(userId, offerSdp, subscribedTracks(subscriber));
      })
      .catch((error: unknown) => {
        if (subscriber.peer.closed) return;
        const failure = error instanceof MediaError ? error : new MediaError('wrong-state', `Renegotiating user "${userId}"'s subscription failed: ${describeCause(error)}.`, { cause: error });
        this.reports.failure(userId, failure, false);
      });
  }

  /** A connection that never completes ICE and DTLS is closed; one that connects asks its tracks for keyframes. */
  private watch(userId: string, subscriber: Subscriber) {
    const timeoutMs = this.setup.connectTimeoutMs;
    watchConnection(
      subscriber.peer,
      timeoutMs,
      () => {
        if (this.subscribers.get(userId) !== subscriber) return;
        const error = new MediaError('timeout', `User "${userId}"'s receiving connection did not connect within ${Math.round(timeoutMs / 1000)} s (ICE or DTLS never completed), so it was closed.`);
        void this.drop(userId, subscriber).then(() => this.reports.failure(userId, error, true));
      },
      (state) => {
        if (state === 'connected' && this.subscribers.get(userId) === subscriber) requestKeyframes(subscriber);
        this.reports.connectionState(userId, state);
      },
    );
  }

  private closedError(userId: string) {
    return new MediaError('closed', `User "${userId}" left room "${this.roomId}" (or it closed) before the negotiation finished.`);
  }
}

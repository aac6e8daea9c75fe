// A room's receiving connections when worker threads serve them (MediaServerOptions.workers > 0):
// a proxy that passes the room's calls to the LocalSubscribers in each user's worker
// (subscriber-worker.ts) and hands that worker's reports back to the room. It keeps only what the
// main thread must answer without asking a worker: who is where, their tracks, their REMB.
import { isFresh, type ReceiverEstimate } from './bandwidth.ts';
import { MediaError } from './errors.ts';
import type { PublishedTrack } from './peers.ts';
import type { RelayTrack, RoomEvent } from './relay-protocol.ts';
import type { SubscriberOffer, SubscriberReports, Subscribers } from './subscribers.ts';
import type { SubscribedTrackInfo } from './types.ts';
import type { WorkerLink } from './worker-link.ts';

/** What RemoteSubscribers needs of the worker pool (worker-pool.ts). */
export interface SubscriberPool {
  /** The running worker with the fewest subscribers (throws `closed` if none runs). */
  pick(): WorkerLink;
  /** The number a published track's packets carry to the workers (the pool routes them from then on). */
  trackNumber(track: PublishedTrack): number;
  /** The track left its room: no worker is sent its packets any more. */
  dropTrack(num: number): void;
  /** The room has a subscriber again: the worker's reports for it come here. */
  adopt(room: RemoteSubscribers): void;
  /** The room has no subscriber left. */
  forget(room: RemoteSubscribers): void;
}

interface RemoteUser {
  link: WorkerLink;
  tracks: SubscribedTrackInfo[];
  estimate?: ReceiverEstimate;
}

export class RemoteSubscribers implements Subscribers {
  readonly id: string;
  private readonly pool: SubscriberPool;
  private readonly reports: SubscriberReports;
  private readonly users = new Map<string, RemoteUser>();
  /** The workers serving someone in this room, and the room's tracks as last sent. */
  private readonly links = new Set<WorkerLink>();
  private tracks: readonly PublishedTrack[] = [];
  private relays: RelayTrack[] = [];
  private closed = false;

  constructor(id: string, pool: SubscriberPool, reports: SubscriberReports) {
    this.id = id;
    this.pool = pool;
    this.reports = reports;
  }

  get size(): number {
    return this.users.size;
  }

  has(userId: string): boolean {
    return this.users.has(userId);
  }

  userIds(): string[] {
    return [...this.users.keys()];
  }

  subscribedTracks(userId: string): SubscribedTrackInfo[] {
    return (this.users.get(userId)?.tracks ?? []).map((track) => ({ ...track }));
  }

  counts(): { subscribers: number; forwards: number } {
    // A track gone from the room is no longer forwarded, though the worker's renegotiation may still be on its way.
    const live = new Set(this.relays.map((relay) => relay.info.id));
    let forwards = 0;
    for (const user of this.users.values()) forwards += user.tracks.filter((track) => live.has(track.id)).length;
    return { subscribers: this.users.size, forwards };
  }

  lowestEstimate(publisherId: string, now: number): number {
    let lowest = Number.POSITIVE_INFINITY;
    for (const [userId, user] of this.users) {
      if (userId === publisherId || !isFresh(user.estimate, now) || user.estimate.bps >= lowest) continue;
      if (user.tracks.some((track) => track.userId === publisherId && track.kind === 'video')) lowest = user.estimate.bps;
    }
    return lowest;
  }

  async subscribe(userId: string): Promise<SubscriberOffer> {
    if (this.closed) throw new MediaError('closed', `User "${userId}" left room "${this.id}" (or it closed) before the negotiation finished.`);
    let user = this.users.get(userId);
    // The first subscriber of the room in a worker brings it the room's tracks (in the same message,
    // so the worker cannot forget the room in between, as it does when its last subscriber there leaves).
    let tracks: RelayTrack[] | undefined;
    if (!user) {
      user = { link: this.pool.pick(), tracks: [] };
      user.link.load++;
      this.users.set(userId, user);
      this.pool.adopt(this);
      if (!this.links.has(user.link)) {
        this.links.add(user.link);
        tracks = this.relays;
      }
    }
    const result = await user.link.request<SubscriberOffer>({ op: 'subscribe', roomId: this.id, userId, ...(tracks ? { tracks } : {}) });
    user.tracks = result.tracks;
    return result;
  }

  async acceptAnswer(userId: string, answerSdp: string): Promise<SubscribedTrackInfo[]> {
    const user = this.users.get(userId);
    if (!user) throw new MediaError('not-found', `User "${userId}" has not subscribed in room "${this.id}": call subscribe() first.`);
    user.tracks = await user.link.request<SubscribedTrackInfo[]>({ op: 'answer', roomId: this.id, userId, sdp: answerSdp });
    return this.subscribedTracks(userId);
  }

  async unsubscribe(userId: string): Promise<void> {
    const user = this.users.get(userId);
    if (!user) return;
    this.removeUser(userId, user);
    await user.link.request({ op: 'close', roomId: this.id, userId }).catch(() => {});
  }

  /** Every worker serving the room hears of its new tracks (and renegotiates its subscribers there). */
  tracksChanged(tracks: readonly PublishedTrack[]): void {
    const before = this.relays;
    this.tracks = tracks;
    this.relays = tracks.map((track) => ({ num: this.pool.trackNumber(track), info: { ...track.info } }));
    const kept = new Set(this.relays.map((relay) => relay.num));
    for (const relay of before) if (!kept.has(relay.num)) this.pool.dropTrack(relay.num);
    for (const link of this.links) link.post({ kind: 'tracks', roomId: this.id, tracks: this.relays });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.userIds().map((userId) => this.unsubscribe(userId)));
  }

  /** A report from one of the workers about this room (worker-pool.ts routes them by room id). */
  onEvent(event: RoomEvent): void {
    if (event.kind === 'keyframe') {
      // A subscriber there asked (PLI, or its connection came up): the main thread's rate limit applies.
      for (const track of this.tracks) if (track.info.id === event.trackId) track.requestKeyframe();
      return;
    }
    const user = this.users.get(event.userId);
    if (!user) return;
    switch (event.kind) {
      case 'estimate':
        user.estimate = { bps: event.bps, at: Date.now() };
        return;
      case 'state':
        return this.reports.connectionState(event.userId, event.state);
      case 'renegotiate':
        user.tracks = event.tracks;
        return this.reports.renegotiate(event.userId, event.offerSdp, this.subscribedTracks(event.userId));
      case 'codec-refused':
        return this.reports.codecRefused(event.userId, event.trackId, event.codec);
      case 'failure':
        if (event.closed) this.removeUser(event.userId, user);
        return this.reports.failure(event.userId, new MediaError(event.code, event.message), event.closed);
      default:
        event satisfies never;
    }
  }

  /** A worker stopped (it crashed): its subscribers' connections are gone; their pages are told they failed (and reconnect). */
  linkLost(link: WorkerLink): void {
    for (const [userId, user] of [...this.users]) {
      if (user.link !== link) continue;
      this.removeUser(userId, user);
      this.reports.connectionState(userId, 'failed');
      this.reports.failure(userId, new MediaError('closed', `The media worker serving user "${userId}"'s receiving connection stopped.`), true);
    }
  }

  private removeUser(userId: string, user: RemoteUser) {
    if (this.users.get(userId) !== user) return;
    this.users.delete(userId);
    user.link.load--;
    // The worker forgets the room with its last subscriber there; it is sent the tracks again on the next.
    if (![...this.users.values()].some((other) => other.link === user.link)) this.links.delete(user.link);
    if (this.users.size === 0) this.pool.forget(this);
  }
}

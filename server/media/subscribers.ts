// The subscriber side of a room as the room sees it: one interface, two implementations. In
// process, LocalSubscribers (local-subscribers.ts) owns the receiving connections. With worker
// threads, RemoteSubscribers (remote-subscribers.ts) passes the same calls to a LocalSubscribers
// inside a worker thread (subscriber-worker.ts) and its reports back. The room hands either one a
// SubscriberReports and hears from it only through that.
import type { MediaError } from './errors.ts';
import type { PublishedTrack } from './peers.ts';
import type { SubscribedTrackInfo } from './types.ts';

/** An offer for a receiving connection (raw SDP: the room adds the announced address) and the tracks it carries. */
export interface SubscriberOffer {
  sdp: string;
  tracks: SubscribedTrackInfo[];
}

/** A room's receiving connections. */
export interface Subscribers {
  /** Receiving connections (from subscribe() until unsubscribe(), close() or a failure that closed one). */
  readonly size: number;
  has(userId: string): boolean;
  userIds(): string[];
  /** The tracks a subscriber's session carries, with their mids (after its latest offer). */
  subscribedTracks(userId: string): SubscribedTrackInfo[];
  /** Receiving connections and (published track, subscriber) pairs. */
  counts(): { subscribers: number; forwards: number };
  /** The lowest fresh REMB among the subscribers of this publisher's video (Infinity: none). */
  lowestEstimate(publisherId: string, now: number): number;
  /** Creates (or refreshes) the user's receiving connection: an offer of every track others publish. */
  subscribe(userId: string): Promise<SubscriberOffer>;
  /** Applies the browser's answer to the latest offer; the tracks its session then carries. */
  acceptAnswer(userId: string, answerSdp: string): Promise<SubscribedTrackInfo[]>;
  /** Closes the user's receiving connection, if there is one. */
  unsubscribe(userId: string): Promise<void>;
  /** The room's published tracks, after each change: every subscriber is renegotiated (a `renegotiate` report). */
  tracksChanged(tracks: readonly PublishedTrack[]): void;
  /** Closes every receiving connection; no renegotiation after it. Safe to call twice. */
  close(): Promise<void>;
}

/** What subscribers report to their room (which names the room and the role, and emits it from the server). */
export interface SubscriberReports {
  /** A new offer for the user's receiving connection (raw SDP), after the room's tracks changed. */
  renegotiate(userId: string, offerSdp: string, tracks: SubscribedTrackInfo[]): void;
  connectionState(userId: string, state: string): void;
  /** The user's browser rejected a track (it cannot decode its codec); reported before acceptAnswer() returns. */
  codecRefused(userId: string, trackId: string, codec: string): void;
  /**
   * Something the server started failed: a renegotiation (`closed` false), or the connection was
   * closed (`closed` true: it never connected in time, or its worker thread stopped).
   */
  failure(userId: string, error: MediaError, closed: boolean): void;
}

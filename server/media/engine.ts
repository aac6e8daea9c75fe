// What the rest of the tool sees of the SFU: one interface, two engines behind it. mediasoup
// (mediasoup/engine.ts: a C++ worker per core) is the default wherever its worker runs; werift
// (server.ts: TypeScript in this process and its worker threads) is the fallback that needs no
// native code. Both speak standard SDP offer/answer with the browser, so nothing above
// server/media knows which one serves a room.
import type { EventEmitter } from 'node:events';
import type { MediaTap, TapTarget } from './tap.ts';
import type { MediaServerEvents, MediaStats, PublishedTrackInfo, RoomCounts, SubscribedTrackInfo, VideoCodec } from './types.ts';

export type EngineName = 'mediasoup' | 'werift';

/** A room as its users see it: who has connections, what is published, what each one receives. */
export interface MediaRoomView {
  readonly id: string;
  /** Whether the user has a publishing / receiving connection here. */
  has(userId: string): { publisher: boolean; subscriber: boolean };
  /** The room's published tracks. */
  tracks(): PublishedTrackInfo[];
  /** The tracks a subscriber's session carries, with their mids (after its latest offer). */
  subscribedTracks(userId: string): SubscribedTrackInfo[];
  /** Sizes: connections, published tracks, (track, subscriber) pairs. */
  counts(): RoomCounts;
  /** Asks a video track's publisher for a keyframe (rate-limited). False if no such video track. */
  requestKeyframe(trackId: string): boolean;
  /** Closes every connection in the room; safe to call twice. */
  close(): Promise<void>;
}

/** An SFU: rooms of participants, each with at most one sending and one receiving connection. */
export interface MediaEngine extends EventEmitter<MediaServerEvents> {
  readonly engine: EngineName;
  /** Whether a connection can be kept with an ICE restart (else the browser makes a fresh one). */
  readonly iceRestart: boolean;
  /** Whether publishers may send simulcast (each viewer then gets the layer its link takes). */
  readonly simulcast: boolean;
  /** The video codecs taken, most wanted first. */
  readonly videoCodecs: readonly VideoCodec[];
  /** The room if it exists on this node. */
  findRoom(roomId: string): MediaRoomView | undefined;
  /** The rooms with media (or a recording's tap) on this node. */
  roomIds(): string[];
  /** Applies the browser's offer for its sending connection (first or renegotiated); our answer carries every ICE candidate. */
  publish(roomId: string, userId: string, offerSdp: string): Promise<string>;
  /**
   * Creates (or refreshes) the user's receiving connection: an offer of every track others
   * publish. Answer: acceptAnswer(). `iceRestart`: the offer carries fresh ICE credentials (where
   * the engine can restart ICE), to keep a connection whose path was lost.
   */
  subscribe(roomId: string, userId: string, options?: { iceRestart?: boolean }): Promise<string>;
  /** Applies the browser's answer to our latest subscribe (or renegotiate) offer. */
  acceptAnswer(roomId: string, userId: string, answerSdp: string): Promise<void>;
  /** Closes only the user's sending connection (a new publish starts a fresh one). */
  unpublish(roomId: string, userId: string): Promise<void>;
  /** Closes only the user's receiving connection; subscribe() again makes a fresh one. */
  unsubscribe(roomId: string, userId: string): Promise<void>;
  /** Closes the user's connections; others stop receiving the user's tracks. */
  leave(roomId: string, userId: string): Promise<void>;
  /** Copies a room's RTP to a recorder as plain RTP on loopback UDP (tap.ts). */
  tap(roomId: string, target: TapTarget): MediaTap;
  /** Sizes now and counters since start (on mediasoup, the packet counters as last read: see readStats). */
  stats(): MediaStats;
  /** stats() with every counter brought up to date (mediasoup reads its workers' statistics). */
  readStats(): Promise<MediaStats>;
  /** Closes every tap, room, connection and worker; safe to call twice. */
  close(): Promise<void>;
}

// What the main thread and a subscriber worker (subscriber-worker.ts) say to each other over the
// worker's port: requests with ids (answered once), events, and batches of RTP packets. Plain data
// only, no werift objects: a packet crosses as a few numbers and its payload bytes.
import type { MediaErrorCode } from './errors.ts';
import type { IceServer, PublishedTrackInfo, SubscribedTrackInfo, VideoCodec } from './types.ts';

/** What a worker is started with (workerData). */
export interface WorkerSetup {
  index: number;
  iceServers: IceServer[];
  /** This worker's own share of the UDP port range, if there is one. */
  portRange?: [number, number];
  hostAddresses?: string[];
  ipv6: boolean;
  videoCodecs: VideoCodec[];
  connectTimeoutMs: number;
}

/** A published track as a worker knows it: its info (`info.userId` is its publisher) and the number its packets carry. */
export interface RelayTrack {
  num: number;
  info: PublishedTrackInfo;
}

/**
 * The calls of the Subscribers interface (subscribers.ts), run by the worker's LocalSubscribers of
 * the room. Results: subscribe → SubscriberOffer, answer → SubscribedTrackInfo[], close → null.
 */
export type WorkerRequest =
  /** `tracks`: the room's tracks, with the first subscriber of the room in this worker (set before the offer is made). */
  | { op: 'subscribe'; roomId: string; userId: string; tracks?: RelayTrack[] }
  | { op: 'answer'; roomId: string; userId: string; sdp: string }
  | { op: 'close'; roomId: string; userId: string };

/** Main thread → worker. */
export type ToWorker =
  | { kind: 'request'; id: number; request: WorkerRequest }
  /** The room's published tracks changed: the worker renegotiates its subscribers in the room. */
  | { kind: 'tracks'; roomId: string; tracks: RelayTrack[] }
  | { kind: 'rtp'; meta: Uint32Array; data: Uint8Array };

/**
 * Worker → main thread, about one room: its LocalSubscribers' reports (SubscriberReports in
 * subscribers.ts), a keyframe request from a subscriber, and a subscriber's latest REMB.
 */
export type RoomEvent =
  | { kind: 'renegotiate'; roomId: string; userId: string; offerSdp: string; tracks: SubscribedTrackInfo[] }
  | { kind: 'state'; roomId: string; userId: string; state: string }
  | { kind: 'codec-refused'; roomId: string; userId: string; trackId: string; codec: string }
  /** `closed`: the worker closed the user's connection (it never connected in time). */
  | { kind: 'failure'; roomId: string; userId: string; code: MediaErrorCode; message: string; closed: boolean }
  | { kind: 'keyframe'; roomId: string; trackId: string }
  | { kind: 'estimate'; roomId: string; userId: string; bps: number };

/** Worker → main thread. */
export type FromWorker =
  | RoomEvent
  | { kind: 'response'; id: number; result?: unknown; error?: { code: MediaErrorCode; message: string } }
  /**
   * The worker now needs (on) or no longer needs (off) this track's packets: it has, or no longer
   * has, a subscriber with the track in an answered offer (refused forwards do not count). The main
   * thread posts a track's packets only to the workers that need them. Sent before the response to
   * the request that changed it.
   */
  | { kind: 'wants'; num: number; on: boolean }
  /** Growth since the previous report. */
  | { kind: 'counters'; packetsForwarded: number; bytesForwarded: number; packetsLostBySubscribers: number };

/**
 * Numbers per packet in a batch's meta: track, sequence, timestamp, marker, payload type, ssrc, offset, length.
 * No CSRCs: browsers send none (only mixers add them), so none are carried to the workers (the
 * main thread's own forwarding passes on any there are).
 */
export const META_FIELDS = 8;

/** Packets waiting to go to one worker, sent in one message per turn of the event loop. */
export class PacketBatch {
  private meta = new Uint32Array(64 * META_FIELDS);
  private data = new Uint8Array(64 * 1200);
  private count = 0;
  private bytes = 0;

  get size(): number {
    return this.count;
  }

  add(trackNum: number, seq: number, ts: number, marker: boolean, payloadType: number, ssrc: number, payload: Uint8Array) {
    if ((this.count + 1) * META_FIELDS > this.meta.length) {
      const meta = new Uint32Array(this.meta.length * 2);
      meta.set(this.meta);
      this.meta = meta;
    }
    if (this.bytes + payload.length > this.data.length) {
      const data = new Uint8Array(Math.max(this.data.length * 2, this.bytes + payload.length));
      data.set(this.data.subarray(0, this.bytes));
      this.data = data;
    }
    const at = this.count * META_FIELDS;
    const meta = this.meta;
    meta[at] = trackNum;
    meta[at + 1] = seq;
    meta[at + 2] = ts;
    meta[at + 3] = marker ? 1 : 0;
    meta[at + 4] = payloadType;
    meta[at + 5] = ssrc;
    meta[at + 6] = this.bytes;
    meta[at + 7] = payload.length;
    this.data.set(payload, this.bytes);
    this.bytes += payload.length;
    this.count++;
  }

  /** The batch as a message (its buffers transferred, not copied), and a fresh empty batch. */
  take(): { message: ToWorker & { kind: 'rtp' }; transfer: ArrayBuffer[] } {
    const meta = this.meta.slice(0, this.count * META_FIELDS);
    const data = this.data.slice(0, this.bytes);
    this.count = 0;
    this.bytes = 0;
    return { message: { kind: 'rtp', meta, data }, transfer: [meta.buffer, data.buffer] };
  }
}

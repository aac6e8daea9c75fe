// A subscriber worker thread (MediaServerOptions.workers): it owns some subscribers' werift
// connections (on its own share of the UDP ports). Per room, the same LocalSubscribers as the main
// thread's in-process rooms (local-subscribers.ts) does their negotiation, SRTP and sending; this
// file only feeds it: the room's tracks (as mirrors of the main thread's), the relayed packets, the
// requests of the room's RemoteSubscribers (relay-protocol.ts), and posts its reports back, with
// keyframe requests, REMB estimates, the tracks this worker needs and counters.
import { parentPort, workerData } from 'node:worker_threads';
import { RtpHeader, RtpPacket } from 'werift';
import { describeCause, MediaError } from './errors.ts';
import { dropTrack } from './forwarding.ts';
import { LocalSubscribers, type SubscriberSetup } from './local-subscribers.ts';
import { noop, peerConfig, sendToForwards, type Forward, type ForwardedTrack } from './peers.ts';
import { META_FIELDS, type FromWorker, type RelayTrack, type ToWorker, type WorkerRequest, type WorkerSetup } from './relay-protocol.ts';
import type { SubscriberReports } from './subscribers.ts';
import { newCounters, type Counters, type PublishedTrackInfo } from './types.ts';

const setup = workerData as WorkerSetup;
const port = parentPort!;
const post = (message: FromWorker) => port.postMessage(message);
const counters: Counters = newCounters();
const subscriberSetup: SubscriberSetup = {
  connectTimeoutMs: setup.connectTimeoutMs,
  peerConfig: () => peerConfig(setup, setup.videoCodecs),
  peerOpened: noop,
  peerClosed: (peer) => peer.close(),
};

/** A published track as this worker sees it: the main thread's packets, sent on to its forwards. */
class MirrorTrack implements ForwardedTrack {
  readonly forwards = new Set<Forward>();
  /** The main thread was told this worker needs the track's packets (see syncWants). */
  wanted = false;
  readonly counters = counters;
  readonly info: PublishedTrackInfo;
  readonly num: number;
  private readonly roomId: string;
  constructor(roomId: string, relay: RelayTrack) {
    this.roomId = roomId;
    this.num = relay.num;
    this.info = relay.info;
  }
  requestKeyframe() {
    if (this.info.kind === 'video') post({ kind: 'keyframe', roomId: this.roomId, trackId: this.info.id });
  }
  close() {
    this.forwards.clear();
    if (this.wanted) post({ kind: 'wants', num: this.num, on: false });
    this.wanted = false;
    if (tracksByNum.get(this.num) === this) tracksByNum.delete(this.num);
  }
}

const tracksByNum = new Map<number, MirrorTrack>();
const rooms = new Map<string, WorkerRoom>();

/**
 * Tells the main thread which tracks this worker now needs the packets of: those with a forward in
 * an answered offer (a forward the browser refused is not in its track's forwards; one not yet
 * answered cannot be sent on). The main thread posts a track's packets only to the workers that
 * need them. Called after each change (a request handled, new tracks, a renegotiation, a connection
 * closed on its own), before the response or report that follows it.
 */
function syncWants() {
  for (const track of tracksByNum.values()) {
    let wanted = false;
    for (const forward of track.forwards) {
      if (!forward.negotiated) continue;
      wanted = true;
      break;
    }
    if (wanted === track.wanted) continue;
    track.wanted = wanted;
    post({ kind: 'wants', num: track.num, on: wanted });
  }
}

/** One room in this worker: its subscribers here, and mirrors of the room's tracks while it has any. */
class WorkerRoom {
  readonly id: string;
  readonly subscribers: LocalSubscribers;
  private readonly tracks = new Map<number, MirrorTrack>();

  constructor(id: string) {
    this.id = id;
    this.subscribers = new LocalSubscribers(id, subscriberSetup, this.reports());
  }

  /** The room's tracks now: mirrors of the gone ones dropped (with their forwards), then every subscriber renegotiated. */
  setTracks(relays: RelayTrack[]) {
    const keep = new Set(relays.map((relay) => relay.num));
    for (const [num, track] of this.tracks) {
      if (keep.has(num)) continue;
      this.tracks.delete(num);
      dropTrack(track);
    }
    for (const relay of relays) {
      if (this.tracks.has(relay.num)) continue;
      const track = new MirrorTrack(this.id, relay);
      this.tracks.set(relay.num, track);
      tracksByNum.set(relay.num, track);
    }
    this.subscribers.tracksChanged([...this.tracks.values()]);
  }

  /** Forgotten with its last subscriber here: the main thread sends the tracks again with the next one. */
  forgetIfEmpty() {
    if (this.subscribers.size > 0 || rooms.get(this.id) !== this) return;
    rooms.delete(this.id);
    void this.subscribers.close();
    for (const track of this.tracks.values()) dropTrack(track);
    this.tracks.clear();
  }

  private reports(): SubscriberReports {
    const roomId = this.id;
    return {
      renegotiate: (userId, offerSdp, tracks) => {
        syncWants(); // forwards may have been dropped
        post({ kind: 'renegotiate', roomId, userId, offerSdp, tracks });
      },
      connectionState: (userId, state) => post({ kind: 'state', roomId, userId, state }),
      codecRefused: (userId, trackId, codec) => post({ kind: 'codec-refused', roomId, userId, trackId, codec }),
      failure: (userId, error, closed) => {
        if (closed) this.forgetIfEmpty();
        syncWants();
        post({ kind: 'failure', roomId, userId, code: error.code, message: error.message, closed });
      },
    };
  }
}

/** The hot path: one RtpPacket per received packet, shared by the track's senders here (each clones it). */
function relay(meta: Uint32Array, data: Uint8Array) {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  for (let at = 0; at < meta.length; at += META_FIELDS) {
    const track = tracksByNum.get(meta[at]!);
    if (!track || track.forwards.size === 0) continue;
    const offset = meta[at + 6]!;
    const payload = bytes.subarray(offset, offset + meta[at + 7]!);
    const header = new RtpHeader({ sequenceNumber: meta[at + 1]!, timestamp: meta[at + 2]!, marker: meta[at + 3] === 1, payloadType: meta[at + 4]!, ssrc: meta[at + 5]! });
    sendToForwards(track.forwards, new RtpPacket(header, payload), 12 + payload.length, counters);
  }
}

function roomOf(roomId: string): WorkerRoom {
  let room = rooms.get(roomId);
  if (!room) rooms.set(roomId, (room = new WorkerRoom(roomId)));
  return room;
}

async function handle(request: WorkerRequest): Promise<unknown> {
  const room = rooms.get(request.roomId);
  switch (request.op) {
    case 'subscribe': {
      const target = roomOf(request.roomId);
      if (request.tracks) target.setTracks(request.tracks);
      return target.subscribers.subscribe(request.userId);
    }
    case 'answer':
      if (!room) throw new MediaError('not-found', `User "${request.userId}" has not subscribed in room "${request.roomId}": call subscribe() first.`);
      return room.subscribers.acceptAnswer(request.userId, request.sdp);
    case 'close':
      await room?.subscribers.unsubscribe(request.userId);
      room?.forgetIfEmpty();
      return null;
    default:
      return request satisfies never;
  }
}

port.on('message', (message: ToWorker) => {
  switch (message.kind) {
    case 'rtp':
      return relay(message.meta, message.data);
    case 'tracks':
      roomOf(message.roomId).setTracks(message.tracks);
      return syncWants();
    case 'request':
      return void handle(message.request)
        .then(
          (result): FromWorker => ({ kind: 'response', id: message.id, result }),
          (error: unknown): FromWorker => ({ kind: 'response', id: message.id, error: { code: error instanceof MediaError ? error.code : 'wrong-state', message: describeCause(error) } }),
        )
        .then((response) => {
          syncWants();
          post(response);
        });
    default:
      return message satisfies never;
  }
});

// Counters and receivers' estimates go to the main thread twice a second (stats() and REMB read them).
const sent = { packetsForwarded: 0, bytesForwarded: 0, packetsLostBySubscribers: 0 };
/** The estimates already posted (each REMB makes a new one). */
const estimatesSent = new WeakSet<object>();
setInterval(() => {
  for (const room of rooms.values()) {
    for (const [userId, estimate] of room.subscribers.estimates()) {
      if (estimatesSent.has(estimate)) continue;
      estimatesSent.add(estimate);
      post({ kind: 'estimate', roomId: room.id, userId, bps: estimate.bps });
    }
  }
  post({
    kind: 'counters',
    packetsForwarded: counters.packetsForwarded - sent.packetsForwarded,
    bytesForwarded: counters.bytesForwarded - sent.bytesForwarded,
    packetsLostBySubscribers: counters.packetsLostBySubscribers - sent.packetsLostBySubscribers,
  });
  sent.packetsForwarded = counters.packetsForwarded;
  sent.bytesForwarded = counters.bytesForwarded;
  sent.packetsLostBySubscribers = counters.packetsLostBySubscribers;
}, 500);

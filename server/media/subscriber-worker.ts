// A subscriber worker thread (MediaServerOptions.workers): it owns some subscribers' werift
// connections (on its own share of the UDP ports) and does their negotiation, SRTP and sending.
// The main thread keeps the publishers and posts each received packet here once (relay-protocol.ts);
// keyframe requests, REMB estimates, connection states and counters go back as events.
import { parentPort, workerData } from 'node:worker_threads';
import { RtpHeader, RtpPacket } from 'werift';
import { describeCause, MediaError } from './errors.ts';
import { acceptSubscribeAnswer, dropForward, dropTrack, makeSubscribeOffer, requestKeyframes, subscribedTracks, subscribeOffer, syncForwards } from './forwarding.ts';
import { peerConfig, sendToForwards, Subscriber, type Forward, type ForwardedTrack } from './peers.ts';
import { META_FIELDS, type FromWorker, type RelayTrack, type ToWorker, type WorkerRequest, type WorkerSetup } from './relay-protocol.ts';
import { checkSdp } from './sdp.ts';
import { useKeyObjects } from './srtp-keys.ts';
import { newCounters, type Counters, type PublishedTrackInfo } from './types.ts';

const setup = workerData as WorkerSetup;
const port = parentPort!;
const post = (message: FromWorker) => port.postMessage(message);
const counters: Counters = newCounters();
const config = () => peerConfig(setup, setup.videoCodecs);

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
 * need them. Called after each change (a request handled, new tracks, a connection timed out),
 * before the response to the request that made it.
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

class WorkerRoom {
  readonly id: string;
  readonly publishers = new Map<string, { tracks: Map<string, MirrorTrack> }>();
  readonly subscribers = new Map<string, Subscriber>();
  constructor(id: string) {
    this.id = id;
  }

  setTracks(relays: RelayTrack[]) {
    const keep = new Set(relays.map((relay) => relay.num));
    for (const publisher of this.publishers.values()) {
      for (const [mid, track] of publisher.tracks) {
        if (keep.has(track.num)) continue;
        publisher.tracks.delete(mid);
        dropTrack(track);
      }
    }
    for (const relay of relays) {
      if (tracksByNum.has(relay.num)) continue;
      const track = new MirrorTrack(this.id, relay);
      tracksByNum.set(relay.num, track);
      let publisher = this.publishers.get(relay.publisherId);
      if (!publisher) this.publishers.set(relay.publisherId, (publisher = { tracks: new Map() }));
      publisher.tracks.set(relay.info.id, track);
    }
    for (const [id, publisher] of this.publishers) if (publisher.tracks.size === 0) this.publishers.delete(id);
    for (const [userId, subscriber] of this.subscribers) this.renegotiate(userId, subscriber);
  }

  async subscribe(userId: string) {
    let subscriber = this.subscribers.get(userId);
    if (!subscriber) {
      subscriber = new Subscriber(config());
      this.subscribers.set(userId, subscriber);
      this.watchConnection(subscriber, userId);
    }
    const current = subscriber;
    return current.peer.run(async () => {
      const sdp = await subscribeOffer(this.publishers, userId, current, () => closedError(userId));
      return { sdp, tracks: subscribedTracks(current) };
    });
  }

  async answer(userId: string, answerSdp: string) {
    const subscriber = this.subscribers.get(userId);
    if (!subscriber) throw new MediaError('not-found', `User "${userId}" has not subscribed in room "${this.id}": call subscribe() first.`);
    const sdp = checkSdp(answerSdp, 'subscribe answer', true);
    return subscriber.peer.run(async () => {
      const refused = (await acceptSubscribeAnswer(subscriber, userId, sdp, () => closedError(userId))).map((forward) => ({ trackId: forward.track.info.id, codec: forward.track.info.codec ?? 'unknown' }));
      if (subscriber.dirty) {
        subscriber.dirty = false;
        this.renegotiate(userId, subscriber, true);
      }
      return { tracks: subscribedTracks(subscriber), refused };
    });
  }

  async close(userId: string) {
    const subscriber = this.subscribers.get(userId);
    if (!subscriber) return;
    this.subscribers.delete(userId);
    for (const forward of [...subscriber.forwards.values()]) dropForward(forward);
    await subscriber.peer.close();
    if (this.subscribers.size === 0) {
      for (const publisher of this.publishers.values()) for (const track of publisher.tracks.values()) dropTrack(track);
      rooms.delete(this.id);
    }
  }

  private renegotiate(userId: string, subscriber: Subscriber, force = false) {
    subscriber.peer
      .run(async () => {
        if (subscriber.peer.closed) return;
        if (subscriber.peer.pc.signalingState !== 'stable') {
          subscriber.dirty = true;
          return;
        }
        const changed = syncForwards(this.publishers, userId, subscriber);
        if (changed) syncWants(); // a forward dropped here (one added waits for the answer)
        if (!changed && !force) return;
        const offerSdp = await makeSubscribeOffer(subscriber, userId, () => closedError(userId));
        if (subscriber.peer.closed) return;
        post({ kind: 'renegotiate', roomId: this.id, userId, offerSdp, tracks: subscribedTracks(subscriber) });
      })
      .catch((error: unknown) => {
        if (subscriber.peer.closed) return;
        const code = error instanceof MediaError ? error.code : 'wrong-state';
        post({ kind: 'failure', roomId: this.id, userId, code, message: `Renegotiating user "${userId}"'s subscription failed: ${describeCause(error)}.`, closed: false });
      });
  }

  private watchConnection(subscriber: Subscriber, userId: string) {
    const peer = subscriber.peer;
    let timer: NodeJS.Timeout | undefined = setTimeout(() => {
      timer = undefined;
      if (peer.closed || peer.pc.connectionState === 'connected') return;
      const message = `User "${userId}"'s receiving connection did not connect within ${Math.round(setup.connectTimeoutMs / 1000)} s (ICE or DTLS never completed), so it was closed.`;
      if (this.subscribers.get(userId) !== subscriber) return;
      void this.close(userId).then(() => {
        syncWants();
        post({ kind: 'failure', roomId: this.id, userId, code: 'timeout', message, closed: true });
      });
    }, setup.connectTimeoutMs);
    peer.onClose(() => clearTimeout(timer));
    const { unSubscribe } = peer.pc.connectionStateChange.subscribe((state) => {
      if (peer.closed) return;
      if (state === 'connected') {
        clearTimeout(timer);
        timer = undefined;
        useKeyObjects(peer.pc);
        requestKeyframes(subscriber);
      }
      post({ kind: 'state', roomId: this.id, userId, state });
    });
    peer.onClose(unSubscribe);
  }
}

function closedError(userId: string) {
  return new MediaError('closed', `User "${userId}" left (or the server closed) before the negotiation finished.`);
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

async function handle(request: WorkerRequest): Promise<unknown> {
  let room = rooms.get(request.roomId);
  if (request.op === 'subscribe') {
    if (!room) rooms.set(request.roomId, (room = new WorkerRoom(request.roomId)));
    return room.subscribe(request.userId);
  }
  if (!room) {
    if (request.op === 'close') return null;
    throw new MediaError('not-found', `User "${request.userId}" has not subscribed in room "${request.roomId}": call subscribe() first.`);
  }
  if (request.op === 'answer') return room.answer(request.userId, request.sdp);
  await room.close(request.userId);
  return null;
}

port.on('message', (message: ToWorker) => {
  if (message.kind === 'rtp') relay(message.meta, message.data);
  else if (message.kind === 'tracks') {
    let room = rooms.get(message.roomId);
    if (!room) rooms.set(message.roomId, (room = new WorkerRoom(message.roomId)));
    room.setTracks(message.tracks);
    syncWants();
  } else {
    handle(message.request)
      .then(
        (result): FromWorker => ({ kind: 'response', id: message.id, result }),
        (error: unknown): FromWorker => ({ kind: 'response', id: message.id, error: { code: error instanceof MediaError ? error.code : 'wrong-state', message: describeCause(error) } }),
      )
      .then((response) => {
        syncWants();
        post(response);
      });
  }
});

// Counters and receivers' estimates go to the main thread twice a second (stats() and REMB read them).
const sent = { packetsForwarded: 0, bytesForwarded: 0, packetsLostBySubscribers: 0 };
const estimatesSent = new WeakMap<Subscriber, number>();
setInterval(() => {
  for (const room of rooms.values()) {
    for (const [userId, subscriber] of room.subscribers) {
      const estimate = subscriber.estimate;
      if (estimate && estimatesSent.get(subscriber) !== estimate.at) {
        estimatesSent.set(subscriber, estimate.at);
        post({ kind: 'estimate', roomId: room.id, userId, bps: estimate.bps });
      }
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

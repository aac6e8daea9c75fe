// Which published track goes to which subscriber: one sendonly transceiver (a Forward) per
// (track, subscriber) pair, added and stopped as tracks come and go.
import { MediaStream, RtcpRrPacket, RtcpSrPacket, type RtcpPacket } from 'werift';
import { noteReceiverEstimate } from './bandwidth.ts';
import { describeCause, MediaError } from './errors.ts';
import { codecName, mediaKinds, rejectedMids } from './sdp.ts';
import { msidToken, type Forward, type ForwardedTrack, type Subscriber } from './peers.ts';
import type { SubscribedTrackInfo } from './types.ts';

type Publishers = ReadonlyMap<string, { readonly tracks: ReadonlyMap<string, ForwardedTrack> }>;

/** Adds a sender for each track published by others, stops those whose track is gone. True if anything changed. */
export function syncForwards(publishers: Publishers, userId: string, subscriber: Subscriber): boolean {
  let changed = false;
  const pc = subscriber.peer.pc;
  const wanted = new Map<string, ForwardedTrack>();
  for (const [publisherId, publisher] of publishers) {
    if (publisherId === userId) continue;
    for (const track of publisher.tracks.values()) wanted.set(track.info.id, track);
  }
  if (subscriber.stopped) {
    subscriber.stopped = false;
    changed = true;
  }
  for (const [id, forward] of subscriber.forwards) {
    if (wanted.get(id) === forward.track && !forward.transceiver.stopped) continue;
    dropForward(forward);
    changed = true;
  }
  for (const [id, track] of wanted) {
    if (subscriber.forwards.has(id)) continue;
    const stream = new MediaStream({ id: msidToken(`${track.info.userId}~${track.info.streamId ?? 'media'}`) });
    const transceiver = pc.addTransceiver(track.info.kind, { direction: 'sendonly', streams: [stream] });
    // Offered only the codec the publisher sends: werift's sender stamps every packet with the
    // payload type of its first negotiated codec, and a packet is forwarded as it came.
    const codec = pc.config.codecs[track.info.kind]?.filter((c) => codecName(c.mimeType) === track.info.codec);
    if (track.info.kind === 'video' && codec?.length) transceiver.setCodecPreferences(codec);
    const sender = transceiver.sender;
    // The receiving browser asks for keyframes (PLI) when it needs one; pass them on, rate-limited.
    const unsubscribePli = sender.onPictureLossIndication.subscribe(() => track.requestKeyframe()).unSubscribe;
    // What the browser can receive (REMB), so the publisher's bitrate can follow it.
    // And how much it lost of what it was sent (receiver reports), for the metrics.
    const unsubscribeRtcp = sender.onRtcp.subscribe((packet) => {
      noteReceiverEstimate(subscriber, packet);
      noteReportedLoss(forward, packet);
    }).unSubscribe;
    const forward: Forward = {
      track,
      subscriber,
      transceiver,
      sender,
      negotiated: false,
      lostReported: 0,
      dispose: () => {
        unsubscribePli();
        unsubscribeRtcp();
        if (!subscriber.peer.closed && !transceiver.stopped) {
          try {
            transceiver.stop();
          } catch {
            // already stopping: nothing left to release
          }
        }
      },
    };
    track.forwards.add(forward);
    subscriber.forwards.set(id, forward);
    changed = true;
  }
  return changed;
}

/**
 * After the subscriber's answer: its new forwards are live and their tracks asked for a keyframe
 * (a new receiver shows nothing until one; if media cannot flow yet, that happens on connect),
 * except those the browser rejected (no codec in common, e.g. no H.264 decoder): these stay off
 * the track's hot path, and are returned.
 */
function markAnswered(subscriber: Subscriber, answerSdp: string): Forward[] {
  const connected = subscriber.peer.pc.connectionState === 'connected';
  const rejected = new Set(rejectedMids(answerSdp));
  const refused: Forward[] = [];
  for (const forward of subscriber.forwards.values()) {
    if (forward.negotiated) continue;
    forward.negotiated = true;
    if (forward.transceiver.mid != null && rejected.has(forward.transceiver.mid)) {
      forward.refused = true;
      forward.track.forwards.delete(forward);
      refused.push(forward);
    } else if (connected) {
      forward.track.requestKeyframe();
    }
  }
  return refused;
}

/**
 * Counts what a subscriber says it lost of one forwarded stream: a receiver report block (in an RR
 * or SR) for the sender's SSRC carries the cumulative number lost; its growth is added.
 */
function noteReportedLoss(forward: Forward, packet: RtcpPacket): void {
  if (packet.type !== RtcpRrPacket.type && packet.type !== RtcpSrPacket.type) return;
  const ssrc = forward.sender.ssrc;
  for (const report of (packet as RtcpRrPacket | RtcpSrPacket).reports) {
    if (report.ssrc !== ssrc) continue;
    // A signed 24-bit field (duplicates can make it negative) that werift reads unsigned.
    const lost = report.packetsLost >= 0x800000 ? report.packetsLost - 0x1000000 : report.packetsLost;
    if (!(lost > forward.lostReported)) continue;
    forward.track.counters.packetsLostBySubscribers += lost - forward.lostReported;
    forward.lostReported = lost;
  }
}

export function dropTrack(track: ForwardedTrack) {
  for (const forward of [...track.forwards]) dropForward(forward);
  track.close();
}

/** Stops a sender at once; the subscriber learns of it in its next offer. */
export function dropForward(forward: Forward) {
  forward.dispose();
  forward.track.forwards.delete(forward);
  const { subscriber } = forward;
  if (subscriber.forwards.get(forward.track.info.id) === forward) {
    subscriber.forwards.delete(forward.track.info.id);
    subscriber.stopped = true;
  }
}

/**
 * A subscribe request (inside the peer's queue): the forwards brought up to date and the offer to
 * answer, as raw SDP. An offer already out is still the one to answer; changes since follow after it.
 */
export async function subscribeOffer(publishers: Publishers, userId: string, subscriber: Subscriber, closedError: () => Error): Promise<string> {
  if (subscriber.peer.closed) throw closedError();
  const pc = subscriber.peer.pc;
  if (pc.signalingState === 'have-local-offer') {
    if (syncForwards(publishers, userId, subscriber)) subscriber.dirty = true;
    return pc.localDescription?.sdp ?? '';
  }
  syncForwards(publishers, userId, subscriber);
  return makeSubscribeOffer(subscriber, userId, closedError);
}

/** A new offer of the subscriber's current forwards, set as its local description; the raw SDP. */
export async function makeSubscribeOffer(subscriber: Subscriber, userId: string, closedError: () => Error): Promise<string> {
  const pc = subscriber.peer.pc;
  try {
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    if (subscriber.peer.closed) throw closedError();
    return pc.localDescription?.sdp ?? offer.sdp;
  } catch (error) {
    if (error instanceof MediaError) throw error;
    if (subscriber.peer.closed) throw closedError();
    throw new MediaError('wrong-state', `No offer could be made for user "${userId}"'s subscription: ${describeCause(error)}.`, { cause: error });
  }
}

/** The tracks a subscriber's session carries, with their mids (after its latest offer). */
export function subscribedTracks(subscriber: Subscriber): SubscribedTrackInfo[] {
  const out: SubscribedTrackInfo[] = [];
  for (const forward of subscriber.forwards.values()) {
    if (forward.transceiver.mid != null && !forward.refused) out.push({ ...forward.track.info, mid: forward.transceiver.mid });
  }
  return out;
}

/** The subscriber's connection is up: each track it takes is asked for a keyframe (a new receiver shows nothing until one). */
export function requestKeyframes(subscriber: Subscriber): void {
  for (const forward of subscriber.forwards.values()) if (!forward.refused) forward.track.requestKeyframe();
}

/**
 * Applies a browser's answer to its subscription's latest offer (inside the peer's queue); answers
 * the forwards it refused, tracks in a codec the browser cannot decode.
 */
export async function acceptSubscribeAnswer(subscriber: Subscriber, userId: string, sdp: string, closedError: () => Error): Promise<Forward[]> {
  if (subscriber.peer.closed) throw closedError();
  const pc = subscriber.peer.pc;
  if (pc.signalingState !== 'have-local-offer') {
    throw new MediaError('wrong-state', `No offer is waiting for an answer on user "${userId}"'s subscription (state ${pc.signalingState}).`);
  }
  const offered = mediaKinds(pc.localDescription?.sdp ?? '').length;
  const answered = mediaKinds(sdp).length;
  if (offered !== answered) {
    throw new MediaError('invalid-sdp', `The subscribe answer has ${answered} media sections but the offer had ${offered}: it does not answer the latest offer.`);
  }
  try {
    await pc.setRemoteDescription({ type: 'answer', sdp });
  } catch (error) {
    if (subscriber.peer.closed) throw closedError();
    throw new MediaError('invalid-sdp', `The subscribe answer was refused: ${describeCause(error)}.`, { cause: error });
  }
  // m-lines stopped by this answer may leave a transport with no user (Peer.reapTransports).
  subscriber.peer.reapTransports();
  return markAnswered(subscriber, sdp);
}

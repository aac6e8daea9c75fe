// Which published track goes to which subscriber: one sendonly transceiver (a Forward) per
// (track, subscriber) pair, added and stopped as tracks come and go.
import { MediaStream, RtcpRrPacket, RtcpSrPacket, type RtcpPacket } from 'werift';
import { noteReceiverEstimate } from './bandwidth.ts';
import { msidToken, type Forward, type PublishedTrack, type Publisher, type Subscriber } from './peers.ts';

/** Adds a sender for each track published by others, stops those whose track is gone. True if anything changed. */
export function syncForwards(publishers: ReadonlyMap<string, Publisher>, userId: string, subscriber: Subscriber): boolean {
  let changed = false;
  const pc = subscriber.peer.pc;
  const wanted = new Map<string, PublishedTrack>();
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
      packets: 0,
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
 * Counts what a subscriber says it lost of one forwarded stream: a receiver report block (in an RR
 * or SR) for the sender's SSRC carries the cumulative number lost; its growth is added.
 */
export function noteReportedLoss(forward: Forward, packet: RtcpPacket): void {
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

export function dropTrack(track: PublishedTrack) {
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

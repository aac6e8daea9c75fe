// Which published track goes to which subscriber: one sendonly transceiver (a Forward) per
// (track, subscriber) pair, added and stopped as tracks come and go.
import { MediaStream } from 'werift';
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
    const unsubscribeRtcp = sender.onRtcp.subscribe((packet) => noteReceiverEstimate(subscriber, packet)).unSubscribe;
    const forward: Forward = {
      track,
      subscriber,
      transceiver,
      sender,
      negotiated: false,
      packets: 0,
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

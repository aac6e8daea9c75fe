// The two connections a tab may have on the mediasoup engine, each a WebRtcTransport whose
// negotiation steps run one after another: a publisher (its producers, as tracks) and a
// subscriber (its consumers, and every m-line of the offers made to it).
import type { Consumer, MediaKind, Router, RtpParameters, WebRtcTransport } from 'mediasoup/types';
import { describeCause } from '../errors.ts';
import { msidToken } from '../peers.ts';
import { writeSubscribeOffer, type AnsweredSection, type LocalTransport, type OfferedSection, type SubscriberSection } from './sdp.ts';
import type { SoupTrack } from './track.ts';

const noop = () => {};

/** Runs one connection's negotiation steps one after another. */
export class Chain {
  #tail: Promise<unknown> = Promise.resolve();
  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(task);
    this.#tail = result.catch(noop);
    return result;
  }
}

/** A WebRtcTransport with its DTLS state followed and a connect timeout. */
export class Connection {
  readonly transport: WebRtcTransport;
  /** The router (so the worker) the transport belongs to. */
  readonly router: Router;
  readonly chain = new Chain();
  /** transport.connect() was called (once per transport). */
  dtlsSet = false;
  closed = false;
  version = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(transport: WebRtcTransport, router: Router, timeoutMs: number, onTimeout: () => void, onState: (state: string) => void) {
    this.transport = transport;
    this.router = router;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.closed && transport.dtlsState !== 'connected') onTimeout();
    }, timeoutMs);
    transport.on('dtlsstatechange', (state) => {
      if (this.closed) return;
      if (state === 'connected') clearTimeout(this.#timer);
      onState(state === 'connecting' ? 'connecting' : state);
    });
    transport.on('icestatechange', (state) => {
      if (!this.closed && state === 'disconnected') onState('disconnected');
    });
  }

  local(): LocalTransport {
    return { ice: this.transport.iceParameters, candidates: this.transport.iceCandidates, dtls: this.transport.dtlsParameters };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.#timer);
    if (!this.transport.closed) this.transport.close();
  }
}

/** A kind of connection, as the room opens one. */
export type ConnectionClass<C extends Connection> = new (transport: WebRtcTransport, router: Router, timeoutMs: number, onTimeout: () => void, onState: (state: string) => void) => C;

export class Publisher extends Connection {
  /** By the mid of the browser's m-line. */
  readonly tracks = new Map<string, SoupTrack>();
  iceUfrag: string | undefined;

  /**
   * Brings the tracks in line with an offer: keeps a track whose m-line still sends the same
   * stream, closes one whose m-line stopped or now carries another, and has `produce` make one for
   * each new m-line (one mediasoup refuses is answered with port 0). Answers how each m-line is
   * answered, and whether the tracks changed. Throws only if the connection closed meanwhile.
   */
  async apply(sections: OfferedSection[], produce: (section: OfferedSection, rtp: { kind: MediaKind; parameters: RtpParameters }) => Promise<SoupTrack>): Promise<{ answered: AnsweredSection[]; changed: boolean }> {
    const answered: AnsweredSection[] = [];
    let changed = false;
    const live = new Set<string>();
    for (const section of sections) {
      const known = this.tracks.get(section.mid);
      if (known && (!section.rtpParameters || known.identity !== section.identity)) {
        this.tracks.delete(section.mid);
        known.close();
        changed = true;
      }
      if (!section.rtpParameters || section.kind === 'application') {
        answered.push({ offered: section });
        continue;
      }
      live.add(section.mid);
      const kept = this.tracks.get(section.mid);
      if (kept) {
        answered.push({ offered: section, rtpParameters: kept.producer.rtpParameters });
        continue;
      }
      try {
        this.tracks.set(section.mid, await produce(section, { kind: section.kind, parameters: section.rtpParameters }));
        answered.push({ offered: section, rtpParameters: section.rtpParameters });
        changed = true;
      } catch (error) {
        if (this.closed) throw error;
        // mediasoup refused this m-line's parameters: the browser is told by a port 0 answer.
        answered.push({ offered: { ...section, refused: `refused by the media server: ${describeCause(error)}` } });
      }
    }
    for (const [mid, track] of this.tracks) {
      if (live.has(mid)) continue;
      this.tracks.delete(mid);
      track.close();
      changed = true;
    }
    return { answered, changed };
  }
}

export interface Forward {
  track: SoupTrack;
  consumer: Consumer;
  mid: string;
}

export class Subscriber extends Connection {
  /** Every m-line of our offers so far, in order (a closed one stays, to keep the order). */
  readonly sections: Array<SubscriberSection & { trackId?: string }> = [];
  /** By published track id. */
  readonly forwards = new Map<string, Forward>();
  /** Waiting for the browser's answer to our latest offer. */
  offered = false;
  /** The room's tracks changed while an offer was out: offer again after the answer. */
  dirty = false;
  nextMid = 0;

  /** Our next offer: every m-line so far, ICE-lite; the browser's answer is awaited. */
  offer(): string {
    this.offered = true;
    return writeSubscribeOffer(this.sections, this.local(), ++this.version);
  }

  /** Starts sending a track through its consumer, on a new m-line (`mid`) of the next offer. */
  addForward(track: SoupTrack, consumer: Consumer, mid: string): void {
    this.forwards.set(track.info.id, { track, consumer, mid });
    track.consumers.add(consumer);
    consumer.observer.once('close', () => track.consumers.delete(consumer));
    this.sections.push({ mid, kind: track.info.kind, rtpParameters: consumer.rtpParameters, streamId: msidToken(`${track.info.userId}~${track.info.streamId ?? 'media'}`), trackId: msidToken(track.info.id) });
  }

  /**
   * The browser answered our offer: the tracks it refused (no decoder for the codec) are no longer
   * sent (each reported to `refused`), new consumers start (a video one asks its producer for a
   * keyframe: a new receiver shows nothing until one). Answers how many keyframes were asked for.
   */
  async answered(refusedMids: ReadonlySet<string>, refused: (trackId: string, codec: string) => void): Promise<number> {
    this.offered = false;
    let keyframes = 0;
    for (const [trackId, forward] of [...this.forwards]) {
      if (refusedMids.has(forward.mid)) {
        this.closeForward(trackId, forward);
        refused(trackId, forward.track.info.codec ?? 'unknown');
      } else if (forward.consumer.paused) {
        if (forward.consumer.kind === 'video') keyframes++;
        await forward.consumer.resume().catch(noop);
      }
    }
    return keyframes;
  }

  /** Stops sending a track: its consumer closes, and its m-line is closed in the next offer. */
  closeForward(trackId: string, forward: Forward): void {
    this.forwards.delete(trackId);
    if (!forward.consumer.closed) forward.consumer.close();
    const section = this.sections.find((s) => s.mid === forward.mid);
    if (section) delete section.rtpParameters;
  }
}


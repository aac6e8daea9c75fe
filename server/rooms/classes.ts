// The live classes this node serves: one LiveClass per room, made when its first participant is
// admitted, forgotten when it closes. The node's media and recorder speak per room; their news is
// handed to the class it concerns.
import type { CodecRefusedEvent, FailureEvent, RenegotiateEvent, WorkerExitEvent } from '../media/index.ts';
import type { Grant } from '../protocol/index.ts';
import { roomChannel } from './channels.ts';
import type { ClassServices } from './live-class.ts';
import { LiveClass, type ClassClosing } from './live-class.ts';

export class Classes {
  readonly #services: ClassServices;
  readonly #classes = new Map<string, LiveClass>();
  readonly #unsubscribe: Array<() => void> = [];
  #closed = false;

  constructor(services: ClassServices) {
    this.#services = services;
    const { media, recorder, logger } = services;
    const onRenegotiate = ({ roomId, userId, offerSdp, tracks }: RenegotiateEvent) => this.#classes.get(roomId)?.media.renegotiated(userId, offerSdp, tracks);
    const onFailure = ({ roomId, userId, role, error }: FailureEvent) => this.#classes.get(roomId)?.media.failed(userId, role ?? 'subscriber', error);
    const onTracks = ({ roomId }: { roomId: string }) => {
      const liveClass = this.#classes.get(roomId);
      if (liveClass) recorder.stageChanged(roomId, liveClass.media.stage());
    };
    const onCodec = ({ roomId, userId, trackId, codec }: CodecRefusedEvent) =>
      logger.warn({ room: roomId, participant: userId, track: trackId, codec }, `a browser cannot decode ${codec} video, so it does not get this track (MEDIA_VIDEO_CODECS can put VP8 first)`);
    const onWorkerExit = ({ worker, threadId, exitCode, error, subscribers, rooms, restartInMs }: WorkerExitEvent) => {
      logger.error({ worker, thread: threadId, exitCode, error, subscribers, rooms, restartInMs }, `media worker ${worker} (${media.engine === 'mediasoup' ? 'process' : 'thread'} ${threadId}) stopped${exitCode >= 0 ? ` with exit code ${exitCode}` : ''}${error ? ` (${error})` : ''}; its ${subscribers} connections reconnect, a fresh worker takes its place`);
      // What those rooms' recordings tapped is gone with it: each closes, playable, and its hosts are told.
      for (const roomId of rooms) {
        recorder.mediaLost(roomId, 'the media server process serving this class stopped (its participants reconnected); press Record to record on').catch((cause: unknown) => logger.warn({ err: cause, room: roomId }, 'closing a recording after a media worker stopped failed'));
      }
    };
    media.on('renegotiate', onRenegotiate);
    media.on('failure', onFailure);
    media.on('tracks', onTracks);
    media.on('codec-refused', onCodec);
    media.on('worker-exit', onWorkerExit);
    this.#unsubscribe.push(() => {
      media.off('renegotiate', onRenegotiate);
      media.off('failure', onFailure);
      media.off('tracks', onTracks);
      media.off('codec-refused', onCodec);
      media.off('worker-exit', onWorkerExit);
    });
    // A recording that stopped (a host, FFmpeg, the disk) may be all that kept a class here.
    this.#unsubscribe.push(
      recorder.onState((roomId, state) => {
        services.audience.to(roomChannel(roomId)).emit('recording:state', state);
        if (!state.recording) {
          services.audience.to(roomChannel(roomId)).emit('recordings:changed', {});
          this.#classes.get(roomId)?.checkEmpty();
        }
      }),
    );
  }

  /** The room's class on this node, made if there is none yet. */
  enter(roomId: string): LiveClass {
    let liveClass = this.#classes.get(roomId);
    if (!liveClass || liveClass.closed) {
      liveClass = new LiveClass(roomId, this.#services, (closed) => {
        if (this.#classes.get(roomId) === closed) this.#classes.delete(roomId);
      });
      this.#classes.set(roomId, liveClass);
    }
    return liveClass;
  }

  get(roomId: string): LiveClass | undefined {
    return this.#classes.get(roomId);
  }

  all(): LiveClass[] {
    return [...this.#classes.values()];
  }

  /** The rooms this node serves: its classes', its media's, its recordings'. */
  roomIds(): string[] {
    return [...new Set([...this.#classes.keys(), ...this.#services.media.roomIds()])];
  }

  /** Admitted tabs by grant, and the rooms that have any (the metrics). */
  participants(): { byGrant: Record<Exclude<Grant, 'denied'>, number>; rooms: number } {
    const byGrant = { host: 0, speaker: 0, attendee: 0 };
    let rooms = 0;
    for (const liveClass of this.#classes.values()) {
      const participants = liveClass.participants();
      if (participants.length > 0) rooms++;
      for (const participant of participants) byGrant[participant.grant]++;
    }
    return { byGrant, rooms };
  }

  /** Tabs with media (or waiting out their grace period), in every class. */
  get mediaTabs(): number {
    let tabs = 0;
    for (const liveClass of this.#classes.values()) tabs += liveClass.media.tabs;
    return tabs;
  }

  /** Every class leaves this node (a drain, or the node stopping); answers how many tabs were told. */
  async closeAll(reason: Extract<ClassClosing, 'drained' | 'stopped'>, spreadMs?: number): Promise<number> {
    const classes = this.all();
    const tabs = classes.reduce((sum, liveClass) => sum + liveClass.participants().length, 0);
    await Promise.all(classes.map((liveClass) => liveClass.close(reason, spreadMs === undefined ? {} : { spreadMs })));
    return tabs;
  }

  /** Stops hearing the media and the recorder, and closes every class. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    await this.closeAll('stopped');
  }
}

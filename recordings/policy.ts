// What a class records, and when: the recorder as a live class uses it (server/rooms' ClassRecorder).
// The stage's video (the screen share while there is one, else a camera, a host's first) and two
// voices (hosts' first); a room set to record itself starts at "Go live"; a class whose recording
// stopped with the node that served it records on where it moved. Refusals are told to the room.
import type { Room } from '../server/db/index.ts';
import type { Logger } from '../server/logger/index.ts';
import type { TapSources } from '../server/media/index.ts';
import type { RecordingStateView } from '../server/protocol/index.ts';
import type { ClassRecorder, StageSource } from '../server/rooms/index.ts';
import type { RecordingService } from './service.ts';

/**
 * What the recording shows: the screen share while there is one, else a camera (a host's first);
 * and up to two microphones, hosts' first (the host's voice and a speaker's, mixed).
 */
export function recordingSources(stage: readonly StageSource[]): TapSources {
  const pick = (source: string) => stage.find((t) => t.kind === 'video' && t.source === source && t.host) ?? stage.find((t) => t.kind === 'video' && t.source === source);
  const video = pick('screen') ?? pick('camera');
  const voices = [...stage.filter((t) => t.kind === 'audio' && t.host), ...stage.filter((t) => t.kind === 'audio' && !t.host)];
  return { ...(video ? { video: video.id } : {}), audio: [voices[0]?.id, voices[1]?.id] };
}

export class ClassRecordings implements ClassRecorder {
  readonly #service: RecordingService;
  readonly #logger: Logger;

  constructor(service: RecordingService, logger: Logger) {
    this.#service = service;
    this.#logger = logger;
  }

  /**
   * The class went live: a room set to record automatically (rooms.auto_record) starts its
   * recording. Not awaited by the go-live, which never waits for FFmpeg nor fails because of it; a
   * refusal (FFmpeg missing, the disk nearly full) is logged and told to the room, as a recording
   * that stops on its own is.
   */
  classStarted(room: Room, stage: StageSource[]): void {
    if (!room.autoRecord) return;
    this.#service.start(room.id, recordingSources(stage)).catch(this.#refusal(room.id, 'automatic recording did not start', 'The automatic recording did not start'));
  }

  /** Tells a newcomer the state; records on a class whose recording stopped with the node that served it. */
  arrived(roomId: string, classRecorded: boolean, stage: StageSource[], tell: (state: RecordingStateView) => void): void {
    tell(this.#service.state(roomId));
    if (!classRecorded) return;
    this.#service
      .resume(roomId, recordingSources(stage))
      .catch(this.#refusal(roomId, 'the recording did not resume', 'The recording stopped when the server changed and could not go on here'));
  }

  start(roomId: string, stage: StageSource[]): Promise<RecordingStateView> {
    return this.#service.start(roomId, recordingSources(stage));
  }

  stop(roomId: string): Promise<RecordingStateView> {
    return this.#service.stop(roomId);
  }

  state(roomId: string): RecordingStateView {
    return this.#service.state(roomId);
  }

  async mediaLost(roomId: string, why: string): Promise<void> {
    await this.#service.stop(roomId, { failed: why });
  }

  stageChanged(roomId: string, stage: StageSource[]): void {
    this.#service.setSources(roomId, recordingSources(stage));
  }

  async classEnded(roomId: string): Promise<void> {
    await this.#service.stop(roomId);
    this.#service.forget(roomId);
  }

  busy(roomId: string): boolean {
    return this.#service.busy(roomId);
  }

  onState(listener: (roomId: string, state: RecordingStateView) => void): () => void {
    this.#service.on('state', listener);
    return () => this.#service.off('state', listener);
  }

  /** A recording the room expected did not start: logged, and told to the room as its state with the problem. */
  #refusal(roomId: string, logged: string, told: string): (error: unknown) => void {
    return (error) => {
      const reason = error instanceof Error ? error.message : String(error);
      this.#logger.warn({ room: roomId, reason }, logged);
      this.#service.tell(roomId, { recording: false, problem: `${told}: ${reason}. The class is live; a host can press Record to try again.` });
    };
  }
}

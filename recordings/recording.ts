// One room's recording while it runs: FFmpeg writing HLS, the tap feeding it, the watch over the
// disk. It ends one way, whatever ends it (a host's stop, the class ending, FFmpeg dying, a full
// disk, nothing written, the node shutting down): `end(ending)`, once; a second call answers the
// first's outcome. Whoever holds it hears the end through `ended`.
import { EventEmitter } from 'node:events';
import type { Logger } from '../server/logger/index.ts';
import type { TapSources } from '../server/media/index.ts';
import type { VideoPath } from './ffmpeg.ts';
import type { PlaylistFacts } from './playlist.ts';
import type { ActiveRecording } from './recorder.ts';
import { stallAfterMs, watchRecording, whyExited, type RecordingWatch } from './watch.ts';

/**
 * How a recording ends: a host (or the class's end) stopped it; the node is shutting down and the
 * node that takes the class over records on; or it could not go on, and why.
 */
export type Ending = { kind: 'stopped' } | { kind: 'handed-over' } | { kind: 'failed'; why: string };

export interface RecordingOutcome {
  ending: Ending;
  /** What was kept (a recording with nothing written is failed whatever ended it). */
  facts: PlaylistFacts | undefined;
}

/** What a recording asks of the service that started it. */
export interface RecordingHooks {
  logger: Logger;
  /** Closes the playlist and stores the outcome (`remembered`: the last good playlist seen). */
  finish(id: string, dir: string, written: 'ready' | 'interrupted', reason: string | undefined, remembered: string | undefined): Promise<PlaylistFacts>;
  /** Whether the class in progress should be recorded (a node taking the class over records on). */
  intended(roomId: string, recording: boolean): Promise<void>;
}

export interface WatchSettings {
  segmentSeconds: number;
  /** Below this much free space the recording stops. */
  lowFreeBytes: number;
}

type RecordingEvents = { ended: [RecordingOutcome] };

const megabytes = (bytes: number) => Math.round(bytes / 1048576);

export class Recording extends EventEmitter<RecordingEvents> {
  readonly id: string;
  readonly roomId: string;
  readonly dir: string;
  readonly startedAt: Date;
  /** H.264 copied from the browser, or VP8 transcoded. */
  readonly videoPath: VideoPath;
  readonly #active: ActiveRecording;
  readonly #hooks: RecordingHooks;
  readonly #watch: RecordingWatch;
  #ending: Promise<RecordingOutcome> | undefined;

  /** Takes over a started recorder (FFmpeg and its tap) and starts watching it. */
  constructor(active: ActiveRecording, hooks: RecordingHooks, watch: WatchSettings) {
    super();
    this.id = active.id;
    this.roomId = active.roomId;
    this.dir = active.dir;
    this.startedAt = active.startedAt;
    this.videoPath = active.videoPath;
    this.#active = active;
    this.#hooks = hooks;
    void active.hls.exited.then(async (outcome) => {
      if (this.#ending === undefined) void this.end({ kind: 'failed', why: await whyExited(this.dir, outcome) });
    });
    // FFmpeg goes on without writing on a full disk, over a quota, after an I/O error.
    this.#watch = watchRecording(this.dir, {
      intervalMs: 1000,
      minFreeBytes: watch.lowFreeBytes,
      onLowDisk: (left) => void this.end({ kind: 'failed', why: `the disk is full (${megabytes(left)} MB free in RECORDINGS_DIR)` }),
      stallMs: stallAfterMs(watch.segmentSeconds),
      writeError: () => active.hls.writeError,
      onStalled: (why) => void this.end({ kind: 'failed', why }),
    });
  }

  /** Whether it is ending or has ended (it no longer counts as the room's recording). */
  get ending(): boolean {
    return this.#ending !== undefined;
  }

  /** What is on stage changed: the recording follows. */
  setSources(sources: TapSources): void {
    if (this.#ending === undefined) this.#active.tap.setSources(sources);
  }

  /** Ends the recording (once; a second call answers the first's outcome). Never rejects. */
  end(ending: Ending): Promise<RecordingOutcome> {
    this.#ending ??= this.#end(ending);
    return this.#ending;
  }

  async #end(ending: Ending): Promise<RecordingOutcome> {
    const log = this.#hooks.logger.child({ room: this.roomId, recording: this.id });
    this.#watch.stop();
    // Handed over, the class is still meant to be recorded: the node that takes it over records on.
    if (ending.kind !== 'handed-over') await this.#hooks.intended(this.roomId, false);
    // FFmpeg first, while the RTP still flows (it finishes promptly), then the tap. After a failure
    // FFmpeg may be gone already, or (on a full disk) still running: it gets 3 s.
    await this.#active.hls.stop(ending.kind === 'failed' ? 3000 : undefined).catch((error: unknown) => log.warn({ err: error }, 'stopping FFmpeg failed'));
    this.#active.tap.close();
    const facts = await this.#hooks
      .finish(this.id, this.dir, ending.kind === 'failed' ? 'interrupted' : 'ready', ending.kind === 'failed' ? ending.why : undefined, this.#watch.playlist)
      .catch((error: unknown) => {
        log.error({ err: error }, 'closing the recording failed');
        return undefined;
      });
    if (ending.kind === 'failed') log.error({ reason: ending.why }, 'recording failed');
    else log.info({ ending: ending.kind, durationMs: facts?.durationMs, sizeBytes: facts?.sizeBytes }, 'recording stopped');
    const outcome = { ending, facts };
    try {
      this.emit('ended', outcome);
    } catch (error) {
      log.warn({ err: error }, 'a listener of the recording\'s end failed');
    }
    return outcome;
  }
}

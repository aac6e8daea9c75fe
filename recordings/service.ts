// Recording as the rest of the tool sees it: start and stop a room's recording, tell the room, list
// the course's recordings, rename and delete them, close what a crash left open, and remove old
// ones (RECORDING_RETENTION_DAYS). A recording that cannot go on (FFmpeg died, the disk filled,
// RECORDINGS_DIR cannot be written) stops alone: the live class is never touched. Each running
// recording is a Recording (recording.ts) with one way to end; the service keeps the room's
// current one, and forgets it only when that one (not a newer one of the same room) has ended.
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, statfs } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import type { Recording as RecordingRow, Repositories } from '../server/db/index.ts';
import type { Logger } from '../server/logger/index.ts';
import { TAP_CODECS, type MediaEngine, type TapSources, type VideoCodec } from '../server/media/index.ts';
import { checkFfmpeg, makeSlate, type VideoPath } from './ffmpeg.ts';
import { measure, settle, type PlaylistFacts } from './playlist.ts';
import { alive, OWNER_FILE, startRecorder, stopOrphan, type ActiveRecording, type Owner } from './recorder.ts';
import { Recording, type RecordingOutcome } from './recording.ts';
import { summarize, type LinkOptions, type RecordingSummary } from './summary.ts';

export type { RecordingSummary };

export class RecordingError extends Error {
  override name = 'RecordingError';
}

export interface RecordingState {
  recording: boolean;
  recordingId?: string;
  startedAt?: string;
  /** How the running recording gets its video: H.264 copied from the browser, or VP8 transcoded. */
  videoPath?: VideoPath;
  /** Why the last recording stopped on its own (FFmpeg died, disk full, RECORDINGS_DIR not writable). */
  problem?: string;
}

/** With where the VOD is served and how its links are signed (LinkOptions). */
export interface RecordingServiceOptions extends LinkOptions {
  media: Pick<MediaEngine, 'tap' | 'findRoom' | 'videoCodecs'>;
  /**
   * NODE_ID (default: the host name). Recovery after a crash touches only recordings this node
   * started: a container's host name changes when it is re-created, its NODE_ID does not.
   */
  node?: string;
  repositories: () => Repositories;
  logger: Logger;
  dir: string;
  ffmpegPath: string;
  retentionDays: number | undefined;
  segmentSeconds?: number;
}

/** A room's recording started or stopped (and why): the room is told. */
type RecordingServiceEvents = { state: [roomId: string, state: RecordingState] };

/** Below this much free space in RECORDINGS_DIR a recording does not start. */
const MIN_FREE_BYTES = 200 * 1024 * 1024;
/** Below this much a running recording stops (FFmpeg itself goes on writing empty files on a full disk). */
const LOW_FREE_BYTES = 50 * 1024 * 1024;
const megabytes = (bytes: number) => Math.round(bytes / 1048576);

export class RecordingService extends EventEmitter<RecordingServiceEvents> {
  readonly #options: RecordingServiceOptions;
  /** Written in each recording's owner file; recovery closes only this node's. */
  readonly #node: string;
  /** Each room's current recording (the newest; one that is ending may still be closing). */
  readonly #active = new Map<string, Recording>();
  /** Why a room's last recording stopped on its own, until the class ends (forget). */
  readonly #problems = new Map<string, string>();
  readonly #starting = new Map<string, Promise<RecordingState>>();
  /** Every recording not yet closed, the ending ones included: close() waits for them. */
  readonly #open = new Set<Recording>();
  /** Rooms an arrival is resuming: the others arriving meanwhile leave it to that one. */
  readonly #resuming = new Set<string>();
  /** A black keyframe in each codec the recording's video can be in. */
  #slates: Partial<Record<VideoCodec, Buffer>> = {};
  #unavailable: string | undefined = 'recording is starting up';
  #sweeper: NodeJS.Timeout | undefined;
  #ready: Promise<void> | undefined;
  #closed = false;

  constructor(options: RecordingServiceOptions) {
    super();
    this.#options = options;
    this.#node = options.node ?? hostname();
  }

  /**
   * Checks FFmpeg, closes what a crash left open, starts the retention sweep; in the background of
   * start-up (a recording asked for meanwhile waits for it). Never rejects; calling it again
   * answers the same promise.
   */
  init(): Promise<void> {
    this.#ready ??= this.#init();
    return this.#ready;
  }

  async #init(): Promise<void> {
    const { logger, ffmpegPath } = this.#options;
    const check = await checkFfmpeg(ffmpegPath);
    if (!check.ok) {
      this.#unavailable = check.problem;
      logger.warn({ ffmpegPath }, check.problem ?? 'FFmpeg is not usable');
    } else {
      try {
        const [h264, vp8] = await Promise.all([makeSlate(ffmpegPath, 'H264'), makeSlate(ffmpegPath, 'VP8')]);
        this.#slates = { H264: h264, VP8: vp8 };
        this.#unavailable = undefined;
        logger.info({ ffmpeg: check.version }, 'recording available');
      } catch (error) {
        this.#unavailable = `FFmpeg could not encode a test picture (${(error as Error).message.split('\n')[0]}): recording is off`;
        logger.warn({ err: error }, this.#unavailable);
      }
    }
    await this.recover().catch((error: unknown) => logger.error({ err: error }, 'closing interrupted recordings failed'));
    if (this.#options.retentionDays !== undefined && !this.#closed) {
      await this.sweep().catch((error: unknown) => logger.error({ err: error }, 'removing old recordings failed'));
      this.#sweeper = setInterval(() => void this.sweep().catch(() => {}), 3600_000);
      this.#sweeper.unref();
    }
  }

  /** Why recording is off on this node (FFmpeg missing, or the check still running), or undefined. */
  get unavailable(): string | undefined {
    return this.#unavailable;
  }

  state(roomId: string): RecordingState {
    const active = this.#active.get(roomId);
    if (active && !active.ending) return { recording: true, recordingId: active.id, startedAt: active.startedAt.toISOString(), videoPath: active.videoPath };
    const problem = this.#problems.get(roomId);
    return { recording: false, ...(problem ? { problem } : {}) };
  }

  /**
   * Starts the room's recording of `sources` (what is on stage: video, the screen share else a
   * camera; audio, the host's and a speaker's); a second press (another tab, another host) gets
   * the same one.
   */
  start(roomId: string, sources: TapSources = { audio: [] }): Promise<RecordingState> {
    if (this.#closed) return Promise.reject(new RecordingError('this server is shutting down: the recording starts where the class goes on'));
    const existing = this.#active.get(roomId);
    if (existing && !existing.ending) return Promise.resolve(this.state(roomId));
    let starting = this.#starting.get(roomId);
    if (!starting) {
      starting = this.#start(roomId, sources).finally(() => this.#starting.delete(roomId));
      this.#starting.set(roomId, starting);
    }
    return starting;
  }

  async #start(roomId: string, sources: TapSources): Promise<RecordingState> {
    await this.init();
    if (this.#unavailable) throw new RecordingError(`recording is not available on this server: ${this.#unavailable}`);
    const { repositories, logger } = this.#options;
    const free = await statfs(this.#root()).then((s) => s.bavail * s.bsize, () => undefined);
    if (free !== undefined && free < MIN_FREE_BYTES) throw new RecordingError(`there is not enough disk space to record (${megabytes(free)} MB free in RECORDINGS_DIR)`);
    const room = await repositories().rooms.get(roomId);
    if (!room) throw new RecordingError('this room no longer exists');
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const dir = join(this.#root(), roomId, stamp);
    await mkdir(dir, { recursive: true });
    const row = await repositories().recordings.start(roomId, room.title || 'Live class', relative(this.#root(), dir));
    const codec = this.#videoCodec(roomId, sources);
    const segmentSeconds = this.#options.segmentSeconds ?? 2;
    let started: ActiveRecording;
    try {
      started = await startRecorder({
        id: row.id,
        roomId,
        dir,
        ffmpegPath: this.#options.ffmpegPath,
        segmentSeconds,
        slate: this.#slates[codec],
        node: this.#node,
        codecs: { video: TAP_CODECS.video[codec], audio: TAP_CODECS.audio },
        tap: (target) => this.#options.media.tap(roomId, target),
        sources,
        onOtherCodec: (other) => logger.warn({ room: roomId, recording: row.id, codec: other, recorded: codec }, `the video on stage is ${other}, which this ${codec} recording cannot take: it records a black picture until the stage changes`),
      });
    } catch (error) {
      // FFmpeg's and the system's own words (paths, ports) go to the log, not to the room.
      logger.error({ err: error, room: roomId, recording: row.id }, 'the recording could not start');
      await repositories().recordings.finish(row.id, { status: 'failed', durationMs: 0, sizeBytes: 0, failureReason: 'FFmpeg could not start' });
      throw new RecordingError('the recording could not start: FFmpeg could not be started on this server (the reason is in its log)');
    }
    const recording = new Recording(
      started,
      {
        logger,
        finish: (id, folder, written, reason, remembered) => this.#finish(id, folder, written, reason, remembered),
        intended: (room, recorded) => this.#intended(room, recorded),
      },
      { segmentSeconds, lowFreeBytes: LOW_FREE_BYTES },
    );
    this.#open.add(recording);
    recording.once('ended', (outcome) => this.#ended(recording, outcome));
    this.#active.set(roomId, recording);
    this.#problems.delete(roomId);
    if (this.#closed) {
      // The node began to shut down while FFmpeg started: hand the class over at once.
      await recording.end({ kind: 'handed-over' });
      throw new RecordingError('this server is shutting down: the recording starts where the class goes on');
    }
    await this.#intended(roomId, true);
    logger.info({ room: roomId, recording: row.id, video: codec, videoPath: recording.videoPath }, 'recording started');
    const state = this.state(roomId);
    this.tell(roomId, state);
    return state;
  }

  /** Tells the room (everyone in it) its recording's state. */
  tell(roomId: string, state: RecordingState): void {
    try {
      this.emit('state', roomId, state);
    } catch (error) {
      this.#options.logger.warn({ err: error, room: roomId }, 'telling the room of its recording failed');
    }
  }

  /**
   * Stops and closes the room's recording; resolves when the VOD is playable. `handOver`: this node
   * is shutting down, and the node that takes the class over records on (see `resume`). `failed`:
   * it cannot go on (why, told to the room); it is kept as interrupted.
   */
  async stop(roomId: string, { handOver = false, failed }: { handOver?: boolean; failed?: string } = {}): Promise<RecordingState> {
    await this.#starting.get(roomId)?.catch(() => {});
    const recording = this.#active.get(roomId);
    const ending = failed !== undefined ? { kind: 'failed' as const, why: failed } : handOver ? { kind: 'handed-over' as const } : { kind: 'stopped' as const };
    if (recording && !recording.ending) await recording.end(ending);
    return this.state(roomId);
  }

  /** A recording ended (however): the room forgets it unless a newer one took its place, and is told. */
  #ended(recording: Recording, outcome: RecordingOutcome): void {
    this.#open.delete(recording);
    if (this.#active.get(recording.roomId) !== recording) return;
    this.#active.delete(recording.roomId);
    if (outcome.ending.kind === 'failed') this.#problems.set(recording.roomId, `The recording stopped: ${outcome.ending.why}. The class goes on; what was recorded until then is kept.`);
    this.tell(recording.roomId, this.state(recording.roomId));
  }

  /** The class ended (or left this node): what its recording's problem was is no longer the room's news. */
  forget(roomId: string): void {
    this.#problems.delete(roomId);
  }

  /**
   * The recording's video codec, fixed for the whole recording: what is on stage now (H.264 is
   * copied, VP8 transcoded); with nothing on stage, H.264 if every video in the room is, or, with
   * no video yet, if H.264 is what the SFU asks of browsers first.
   */
  #videoCodec(roomId: string, sources: TapSources): VideoCodec {
    const { media } = this.#options;
    const videos = (media.findRoom(roomId)?.tracks() ?? []).filter((track) => track.kind === 'video');
    const onStage = videos.find((track) => track.id === sources.video);
    if (onStage) return onStage.codec === 'H264' ? 'H264' : 'VP8';
    if (videos.length > 0) return videos.every((track) => track.codec === 'H264') ? 'H264' : 'VP8';
    return media.videoCodecs[0] ?? 'VP8';
  }

  /**
   * Records on a class whose recording was closed by a node that shut down (drained, restarted,
   * crashed) while the class went on: called as participants arrive on the node that now serves
   * the room. A new recording starts; the one before stays in the library as it was closed.
   * Undefined when there is nothing to resume, or another arrival is resuming it: a refusal
   * reaches one caller only, and the mark is cleared so that later arrivals do not try again.
   */
  async resume(roomId: string, sources: TapSources = { audio: [] }): Promise<RecordingState | undefined> {
    // Not while one is starting, running or still closing here (a failed one is not restarted).
    if (this.#closed || this.#resuming.has(roomId) || this.#starting.has(roomId) || this.#active.has(roomId)) return undefined;
    this.#resuming.add(roomId);
    try {
      // Read again, not taken from the arrival: a host may have stopped the recording since.
      const session = await this.#options.repositories().classes.current(roomId);
      if (!session?.recording) return undefined;
      this.#options.logger.info({ room: roomId, session: session.id }, 'recording on a class whose recording stopped with the server that served it');
      return await this.start(roomId, sources).catch(async (error: unknown) => {
        await this.#intended(roomId, false);
        throw error;
      });
    } finally {
      this.#resuming.delete(roomId);
    }
  }

  /** Whether the class in progress should be recorded (class_sessions.recording); a failure to say so is logged. */
  async #intended(roomId: string, recording: boolean): Promise<void> {
    await this.#options.repositories().classes.setRecording(roomId, recording).catch((error: unknown) => this.#options.logger.warn({ err: error, room: roomId }, 'storing whether the class is recorded failed'));
  }

  /** What is on stage changed: the recording follows. */
  setSources(roomId: string, sources: TapSources): void {
    this.#active.get(roomId)?.setSources(sources);
  }

  /** Whether a recording of the room is starting, running or closing here. */
  busy(roomId: string): boolean {
    return this.#starting.has(roomId) || [...this.#open].some((recording) => recording.roomId === roomId);
  }

  async list(courseId: string, userId: string, now = Date.now()): Promise<RecordingSummary[]> {
    const rows = await this.#options.repositories().recordings.listForCourse(courseId);
    return rows.map((row) => summarize(row, this.#options, userId, now));
  }

  async get(recordingId: string): Promise<RecordingRow | undefined> {
    return this.#options.repositories().recordings.get(recordingId);
  }

  async rename(recordingId: string, title: string): Promise<void> {
    await this.#options.repositories().recordings.rename(recordingId, title);
  }

  /** Deletes the row and the files (a running recording is stopped first). */
  async remove(recordingId: string): Promise<void> {
    const row = await this.get(recordingId);
    if (!row) return;
    const running = [...this.#open].find((recording) => recording.id === recordingId);
    if (running) await running.end({ kind: 'stopped' });
    await this.#options.repositories().recordings.remove(recordingId);
    await rm(this.folder(row), { recursive: true, force: true });
  }

  /** The recording's folder, never outside RECORDINGS_DIR. */
  folder(row: Pick<RecordingRow, 'path'>): string {
    const root = this.#root();
    const dir = resolve(root, row.path);
    if (!dir.startsWith(root + sep)) throw new RecordingError('a recording path points outside RECORDINGS_DIR');
    return dir;
  }

  /**
   * Recordings marked as running that no live process owns (this node crashed, kill -9): their
   * FFmpeg is stopped if it outlived us, the playlist closed with what was written, and the
   * recording marked "interrupted" (playable) or "failed" (nothing written).
   */
  async recover(): Promise<number> {
    const repos = this.#options.repositories();
    let recovered = 0;
    for (const row of await repos.recordings.listUnfinished()) {
      if ([...this.#open].some((recording) => recording.id === row.id)) continue;
      const dir = this.folder(row);
      // Not in this node's RECORDINGS_DIR (not shared): the node that has the folder closes it.
      if (!existsSync(dir)) continue;
      const owner = await readFile(join(dir, OWNER_FILE), 'utf8').then((text) => JSON.parse(text) as Owner, () => undefined);
      if (owner && owner.host !== this.#node) continue; // another node's recording
      if (owner && owner.pid !== process.pid && alive(owner.pid)) continue; // another live process here
      if (owner?.ffmpegPid !== undefined && alive(owner.ffmpegPid)) await stopOrphan(owner.ffmpegPid);
      const facts = await this.#finish(row.id, dir, 'interrupted', 'the server stopped during the recording; what was recorded until then is kept');
      this.#options.logger.warn({ recording: row.id, room: row.roomId, durationMs: facts.durationMs }, `closed an interrupted recording (${facts.segments > 0 ? 'playable' : 'nothing written'})`);
      recovered++;
    }
    return recovered;
  }

  /** Removes recordings older than the retention period. */
  async sweep(now = Date.now()): Promise<number> {
    const days = this.#options.retentionDays;
    if (days === undefined) return 0;
    const old = await this.#options.repositories().recordings.listStartedBefore(new Date(now - days * 86_400_000));
    for (const row of old) await this.remove(row.id);
    if (old.length > 0) this.#options.logger.info({ removed: old.length, retentionDays: days }, 'removed old recordings');
    return old.length;
  }

  /**
   * Stops every recording cleanly (shutdown, drain), handing each class over to the node that takes
   * it: no new recording starts from now on, those starting finish starting and are closed too.
   * Safe to call twice.
   */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#ready;
    clearInterval(this.#sweeper);
    await Promise.all([...this.#starting.values()].map((starting) => starting.catch(() => {})));
    await Promise.all([...this.#open].map((recording) => recording.end({ kind: 'handed-over' })));
  }

  /** Recordings running on this node (a recording that is closing is not). */
  get running(): number {
    return [...this.#active.values()].filter((recording) => !recording.ending).length;
  }

  /** FFmpeg processes this node still has: running recordings and those closing. */
  get open(): number {
    return this.#open.size;
  }

  /** The rooms this node is recording. */
  runningRooms(): string[] {
    return [...this.#active.values()].filter((recording) => !recording.ending).map((recording) => recording.roomId);
  }

  /**
   * Closes a recording's playlist and stores the outcome: `written` if anything was, else failed.
   * `remembered`: the last good playlist seen while recording, put back if FFmpeg lost it.
   */
  async #finish(id: string, dir: string, written: 'ready' | 'interrupted', reason?: string, remembered?: string): Promise<PlaylistFacts> {
    if (await settle(dir, remembered).catch((error: unknown) => this.#options.logger.error({ err: error, recording: id }, 'repairing the playlist failed'))) {
      this.#options.logger.warn({ recording: id }, 'FFmpeg lost the playlist (a full disk?): the last good one was put back');
    }
    // On a full disk even the end mark may not fit: the playlist is then measured as it is.
    const facts = await measure(dir, { close: true }).catch(() => measure(dir));
    const failureReason = reason ?? (facts.segments > 0 ? undefined : 'nothing was recorded');
    await this.#options.repositories().recordings.finish(id, {
      status: facts.segments > 0 ? written : 'failed',
      durationMs: facts.durationMs,
      sizeBytes: facts.sizeBytes,
      ...(failureReason ? { failureReason } : {}),
    });
    return facts;
  }

  #root(): string {
    return resolve(this.#options.dir);
  }
}

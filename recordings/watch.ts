// The watch over one running recording, and why a recording could not go on. FFmpeg 5.1 exits when
// it cannot open or rename a file in the recording's folder (a read-only file system, a permission
// taken away): its stderr names the error. It does not notice a write into a file it has open that
// fails (a full disk, a disk quota, an I/O error): it goes on, writing nothing, and may empty its
// playlist. So every second the watch keeps the last good playlist, checks the free space, and
// checks that FFmpeg is still writing: a new segment in the playlist, or the segment it is writing
// growing. Measured with 2-second segments (Chromium's camera through `npm run bench:recording`, and
// the slate): the first segment is listed 3-4 s after the start, then one every 2 s, at most 2.9 s
// apart on the copy path and 2.1 s on the transcode path; a recording is stopped after 20 s.
import { readFile, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WRITE_ERRORS, type HlsOutcome } from './ffmpeg.ts';
import { PLAYLIST, readPlaylist } from './playlist.ts';

export interface RecordingWatch {
  /** The playlist as it last listed the most segments (FFmpeg may empty it on a full disk). */
  readonly playlist: string | undefined;
  stop(): void;
}

export interface WatchOptions {
  intervalMs: number;
  /** Under this much free space, `onLowDisk` is called (once). */
  minFreeBytes: number;
  onLowDisk: (freeBytes: number) => void;
  /** Nothing written for this long (counted from the start until the first segment): `onStalled` (once). */
  stallMs: number;
  /** `why`: the reason to give, e.g. "the recording could not be written to RECORDINGS_DIR: …". */
  onStalled: (why: string) => void;
  /** The first write failure FFmpeg reported, if any (HlsProcess.writeError). */
  writeError?: () => string | undefined;
}

/** How long a recording may go without writing before it is taken as lost: 4 segments, at least 20 s. */
export const stallAfterMs = (segmentSeconds: number): number => Math.max(4 * segmentSeconds, 20) * 1000;

/** An error (FFmpeg's words, or a Node error) as the host reads it. */
export function describeWriteError(error: string | NodeJS.ErrnoException): string {
  const known = WRITE_ERRORS.find(([code, strerror]) => (typeof error === 'string' ? error === strerror : error.code === code));
  if (known) return known[2];
  return typeof error === 'string' ? error : (error.code ?? error.message);
}

const couldNotWrite = (what: string): string => `the recording could not be written to RECORDINGS_DIR: ${what}`;

/** Whether a small file can be written into `dir` now: undefined if so, else why not (in words). */
async function writeProblem(dir: string, timeoutMs = 5000): Promise<string | undefined> {
  const file = join(dir, `.write-test-${process.pid}`);
  const probe = writeFile(file, 'ok')
    .then(() => rm(file, { force: true }))
    .then(() => undefined, (error: NodeJS.ErrnoException) => describeWriteError(error));
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`writing a file there did not finish within ${timeoutMs / 1000} s`), timeoutMs);
  });
  try {
    return await Promise.race([probe, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Why FFmpeg exited on its own: a write error it named, else what a test write finds, else its last words. */
export async function whyExited(dir: string, outcome: HlsOutcome): Promise<string> {
  const reason = outcome.reason ?? 'it exited';
  if (/No space left on device/i.test(outcome.writeError ?? reason)) return 'the disk is full';
  const problem = await notWritten(dir, outcome.writeError);
  return problem ? couldNotWrite(problem) : `FFmpeg stopped: ${withoutPaths(reason)}`;
}

/** FFmpeg's words without the server's file paths (a host reads them): each path becomes its file name. */
export function withoutPaths(text: string): string {
  return text.replace(/(?:\/[^\s/:'"]+)+\/?/g, (path) => path.replace(/\/$/, '').split('/').pop() ?? '');
}

/** Why `dir` is not written: the write error FFmpeg named, else what a test write finds; undefined if it writes. */
function notWritten(dir: string, reported: string | undefined): Promise<string | undefined> {
  return reported ? Promise.resolve(describeWriteError(reported)) : writeProblem(dir);
}

/** The temporary file of the segment after `last` (FFmpeg's `segment-%05d.ts`, written as `.tmp`). */
function nextSegmentFile(last: string | undefined): string {
  const index = last === undefined ? 0 : Number(/(\d+)\.ts$/.exec(last)?.[1] ?? -1) + 1;
  return `segment-${String(index).padStart(5, '0')}.ts.tmp`;
}

/** Every `intervalMs` while a recording runs: its playlist, its disk's free space, and whether FFmpeg writes. */
export function watchRecording(dir: string, options: WatchOptions): RecordingWatch {
  let playlist: string | undefined;
  let names: string[] = [];
  let writing = { file: '', size: 0 };
  let progressAt = Date.now();
  let busySince = 0;
  let busy = false;
  let warned = false;
  let stalled = false;
  const stall = () => {
    if (stalled) return;
    stalled = true;
    const seconds = Math.round((Date.now() - progressAt) / 1000);
    void notWritten(dir, options.writeError?.()).then((problem) => options.onStalled(couldNotWrite(problem ?? `FFmpeg has written nothing for ${seconds} s`)));
  };
  const look = async () => {
    const text = await readFile(join(dir, PLAYLIST), 'utf8').catch(() => undefined);
    const listed = text === undefined ? [] : readPlaylist(text).names;
    if (listed.length > 0 && listed.length >= names.length) {
      if (listed.length > names.length) progressAt = Date.now();
      playlist = text;
      names = listed;
    }
    // A long segment (a camera slow to send a keyframe on the copy path) still grows on disk.
    const file = nextSegmentFile(names.at(-1));
    const size = await stat(join(dir, file)).then((s) => s.size, () => 0);
    if (size > 0 && (file !== writing.file || size > writing.size)) progressAt = Date.now();
    writing = { file, size };
    const free = await statfs(dir).then((s) => s.bavail * s.bsize, () => undefined);
    if (free !== undefined && free < options.minFreeBytes && !warned) {
      warned = true;
      options.onLowDisk(free);
    }
    if (Date.now() - progressAt > options.stallMs) stall();
  };
  const timer = setInterval(() => {
    if (busy) {
      // The folder does not answer (a network file system gone): that is no writing either.
      if (Date.now() - busySince > options.stallMs) stall();
      return;
    }
    busy = true;
    busySince = Date.now();
    void look().finally(() => (busy = false));
  }, options.intervalMs);
  timer.unref();
  return {
    get playlist() {
      return playlist;
    },
    stop: () => clearInterval(timer),
  };
}

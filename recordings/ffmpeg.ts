// Every FFmpeg call of the project: checking FFmpeg at start-up, making the slate picture, and the
// recorder process (the room's RTP in, described by an SDP file; HLS out), through fluent-ffmpeg.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import ffmpeg from 'fluent-ffmpeg';

const run = promisify(execFile);

/** Encoders the recorder needs: H.264 (the slate; VP8 turned into H.264) and AAC for HLS, VP8 (the slate). */
const NEEDED_ENCODERS = ['libx264', 'aac', 'libvpx'];

export interface FfmpegCheck {
  ok: boolean;
  version?: string;
  /** Why recording cannot work, and how to fix it. */
  problem?: string;
}

/** Is FFmpeg there, with what recording needs? One run of `ffmpeg -encoders`; never throws. */
export async function checkFfmpeg(path: string): Promise<FfmpegCheck> {
  let listed: { stdout: string; stderr: string };
  try {
    listed = await run(path, ['-encoders'], { timeout: 10_000 });
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    return {
      ok: false,
      problem: missing
        ? `FFmpeg was not found at FFMPEG_PATH=${path}: recording is off (live classes work). Install it (Debian/Ubuntu: apt-get install ffmpeg) or set FFMPEG_PATH.`
        : `FFmpeg at FFMPEG_PATH=${path} did not run (${(error as Error).message.split('\n')[0]}): recording is off (live classes work).`,
    };
  }
  // The banner (on stderr) names the version; stdout lists the encoders.
  const version = /ffmpeg version (\S+)/.exec(listed.stderr)?.[1] ?? 'unknown';
  const missing = NEEDED_ENCODERS.filter((name) => !new RegExp(`^ \\S+ ${name}\\s`, 'm').test(listed.stdout));
  if (missing.length > 0) return { ok: false, version, problem: `FFmpeg ${version} at ${path} lacks the encoders ${missing.join(', ')}: recording is off. Debian's ffmpeg package has them.` };
  return { ok: true, version };
}

export type SlateCodec = 'VP8' | 'H264';

/**
 * One black 16:9 keyframe, shown while nothing is on stage: a raw VP8 frame (from an IVF file), or
 * an H.264 access unit (constrained baseline, SPS + PPS + IDR) as an Annex B byte stream.
 */
export async function makeSlate(path: string, codec: SlateCodec = 'VP8'): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'lc-slate-'));
  try {
    const file = join(dir, codec === 'VP8' ? 'slate.ivf' : 'slate.h264');
    const encode = codec === 'VP8'
      ? ['-c:v', 'libvpx', '-f', 'ivf']
      : ['-c:v', 'libx264', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p', '-bsf:v', 'h264_mp4toannexb', '-f', 'h264'];
    await run(path, ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'color=c=black:s=640x360:r=1', '-frames:v', '1', ...encode, file], { timeout: 20_000 });
    const data = await readFile(file);
    if (codec === 'H264') return data;
    // IVF: a 32-byte file header, then each frame: 4-byte size, 8-byte timestamp, data.
    const size = data.readUInt32LE(32);
    return data.subarray(44, 44 + size);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface RecorderInput {
  /** Loopback UDP ports the tap sends plain RTP to (each port + 1 is left for RTCP). */
  videoPort: number;
  audioPorts: number[];
  /** VP8 is transcoded to H.264; H.264 is copied as it comes. */
  video: { payloadType: number; name: string; clockRate: number; fmtp?: string };
  audio: { payloadType: number; name: string; clockRate: number; channels: number };
}

/** What FFmpeg does with the video: copies H.264 into the segments, or decodes VP8 and encodes H.264. */
export type VideoPath = 'copy' | 'transcode';
export const videoPathOf = (input: RecorderInput): VideoPath => (input.video.name.toUpperCase() === 'H264' ? 'copy' : 'transcode');

/** The SDP FFmpeg reads the room's RTP by. */
export function recorderSdp(input: RecorderInput): string {
  const { video, audio } = input;
  const lines = ['v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=Live Classroom', 'c=IN IP4 127.0.0.1', 't=0 0'];
  lines.push(`m=video ${input.videoPort} RTP/AVP ${video.payloadType}`, `a=rtpmap:${video.payloadType} ${video.name}/${video.clockRate}`);
  if (video.fmtp) lines.push(`a=fmtp:${video.payloadType} ${video.fmtp}`);
  lines.push('a=recvonly');
  for (const port of input.audioPorts) {
    lines.push(`m=audio ${port} RTP/AVP ${audio.payloadType}`, `a=rtpmap:${audio.payloadType} ${audio.name}/${audio.clockRate}/${audio.channels}`, 'a=recvonly');
  }
  return `${lines.join('\r\n')}\r\n`;
}

export interface HlsOutcome {
  clean: boolean;
  /** FFmpeg's last words when it exited on its own. */
  reason?: string;
  /** The first write failure FFmpeg reported (see writeFailure), e.g. 'Read-only file system'. */
  writeError?: string;
}

export interface HlsProcess {
  pid: number | undefined;
  /** Resolves when FFmpeg has exited: cleanly (stop()) or not (with FFmpeg's last words). */
  exited: Promise<HlsOutcome>;
  /** The first write failure FFmpeg has reported so far, if any. */
  readonly writeError: string | undefined;
  /** Asks FFmpeg to finish (it closes the playlist), then kills it after `graceMs`. */
  stop(graceMs?: number): Promise<HlsOutcome>;
}

/** The C library's names of write errors (as FFmpeg prints them) and Node's codes, in words for the host. */
export const WRITE_ERRORS: Array<[code: string, strerror: string, words: string]> = [
  ['EROFS', 'Read-only file system', 'the file system is read-only'],
  ['EACCES', 'Permission denied', 'permission denied'],
  ['EPERM', 'Operation not permitted', 'operation not permitted'],
  ['EDQUOT', 'Disk quota exceeded', 'the disk quota is exceeded'],
  ['ENOSPC', 'No space left on device', 'the disk is full'],
  ['EIO', 'Input/output error', 'input/output error'],
  ['ESTALE', 'Stale file handle', 'stale file handle (a network file system)'],
  ['ENOTCONN', 'Transport endpoint is not connected', 'the file system is disconnected'],
  ['ENOENT', 'No such file or directory', "the recording's folder is gone"],
];

/** A line that ends with one of them. */
const WRITE_ERROR = new RegExp(`(${WRITE_ERRORS.map(([, strerror]) => strerror).join('|')})\\s*$`);
/** FFmpeg's lines about its output: the HLS muxer's, a packet's write, the trailer, an output file. */
const OUTPUT_LINE = /\[hls @|av_interleaved_write_frame|Error writing trailer|Error closing|Could not write header|\.m3u8|\.ts(\.tmp)?\b/;

/**
 * The error in one line of FFmpeg's stderr that says it could not write its output, e.g.
 * `av_interleaved_write_frame(): Read-only file system` or `[hls @ 0x…] failed to rename file … to
 * …: Permission denied` (FFmpeg 5.1 exits on these: they come when it opens or renames a file). A
 * write into a file already open that fails (a full disk, a quota, an I/O error) is not reported:
 * the watch notices that instead (recordings/watch.ts).
 */
export function writeFailure(line: string): string | undefined {
  return OUTPUT_LINE.test(line) ? WRITE_ERROR.exec(line)?.[1] : undefined;
}

export interface HlsOptions {
  ffmpegPath: string;
  dir: string;
  input: RecorderInput;
  /** Segment length in seconds. */
  segmentSeconds: number;
}

/**
 * Starts FFmpeg: RTP (SDP) in; H.264 copied as it comes (its keyframes, which the tap asks for every
 * segment, cut the segments), or VP8 decoded, scaled and padded to 1280x720 at 25 fps and encoded
 * as H.264 (libx264 veryfast) with a keyframe every segment; the audio streams mixed into AAC; HLS
 * out (MPEG-TS segments, an EVENT playlist that grows while recording and is closed at the end).
 */
export async function startHls(options: HlsOptions): Promise<HlsProcess> {
  const { dir, input, segmentSeconds } = options;
  const sdpFile = join(dir, 'input.sdp');
  await writeFile(sdpFile, recorderSdp(input));
  const audioInputs = input.audioPorts.map((_, i) => `[0:a:${i}]`).join('');
  const copy = videoPathOf(input) === 'copy';
  const filter = [
    ...(copy ? [] : ['[0:v:0]scale=1280:720:force_original_aspect_ratio=decrease,pad=1280:720:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=25,format=yuv420p[v]']),
    `${audioInputs}amix=inputs=${input.audioPorts.length}:normalize=0:dropout_transition=0,aresample=async=1000[a]`,
  ];
  const video = copy
    ? // RTP gives copied frames no duration (FFmpeg counts 1 tick each), and the HLS muxer sums them
      // for the last segment's #EXTINF: each frame lasts until the next one instead.
      ['-map', '0:v:0', '-c:v', 'copy', '-bsf:v', 'setts=duration=if(eq(PREV_INPTS\\,NOPTS)\\,DURATION\\,PTS-PREV_INPTS)']
    : [
        '-map', '[v]',
        '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23', '-maxrate', '2500k', '-bufsize', '5000k',
        '-force_key_frames', `expr:gte(t,n_forced*${segmentSeconds})`, '-sc_threshold', '0',
      ];
  const command = ffmpeg(sdpFile)
    .setFfmpegPath(options.ffmpegPath)
    // The SDP names the codecs; a short probe keeps the first second of the class.
    .inputOptions(['-protocol_whitelist', 'file,udp,rtp', '-analyzeduration', '500000', '-probesize', '200000', '-fflags', '+genpts', '-reorder_queue_size', '256', '-max_delay', '500000', '-thread_queue_size', '1024'])
    .complexFilter(filter)
    .outputOptions([
      ...video,
      '-map', '[a]',
      '-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2',
      '-f', 'hls', '-hls_time', String(segmentSeconds), '-hls_playlist_type', 'event', '-hls_list_size', '0',
      '-hls_flags', 'independent_segments+temp_file', '-hls_segment_filename', join(dir, 'segment-%05d.ts'),
    ])
    .output(join(dir, 'index.m3u8'));
  let stderrTail = '';
  let writeError: string | undefined;
  const exited = new Promise<HlsOutcome>((resolve) => {
    command.on('stderr', (line: string) => {
      stderrTail = `${stderrTail}\n${line}`.slice(-2000);
      writeError ??= writeFailure(line);
    });
    command.on('end', () => resolve({ clean: true }));
    command.on('error', (error: Error) => resolve({ clean: false, reason: lastWords(stderrTail) ?? error.message, ...(writeError ? { writeError } : {}) }));
  });
  // fluent-ffmpeg spawns FFmpeg after looking it up: its process exists once 'start' fires.
  const started = new Promise<void>((resolve) => {
    command.once('start', () => resolve());
    void exited.then(() => resolve());
  });
  command.run();
  await started;
  const proc = (command as unknown as { ffmpegProc?: import('node:child_process').ChildProcess }).ffmpegProc;
  let stopping: Promise<HlsOutcome> | undefined;
  let asked = false;
  return {
    pid: proc?.pid,
    exited,
    get writeError() {
      return writeError;
    },
    stop(graceMs = 10_000) {
      stopping ??= (async () => {
        // On SIGINT FFmpeg flushes, writes the last segment and #EXT-X-ENDLIST, and exits (255).
        asked = true;
        command.kill('SIGINT');
        const timer = setTimeout(() => command.kill('SIGKILL'), graceMs);
        const outcome = await exited;
        clearTimeout(timer);
        return asked ? { clean: true } : outcome;
      })();
      return stopping;
    },
  };
}

/** FFmpeg's most telling line: a known failure, else its last line. */
function lastWords(stderr: string): string | undefined {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const known = lines.find((l) => /No space left on device|Permission denied|Invalid data|Error/i.test(l));
  return known ?? lines.at(-1);
}

// One room's recording while it runs: the SFU's tap sends the room's RTP to FFmpeg on loopback
// UDP, FFmpeg writes HLS into the recording's folder. A marker file says which process owns it, so
// the next start after a crash can tell an orphan from another node's live recording. The
// recording it becomes (recording.ts) watches it and ends it.
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { kill } from 'node:process';
import { join } from 'node:path';
import type { MediaTap, TapSources } from '../server/media/index.ts';
import { startHls, videoPathOf, type HlsProcess, type RecorderInput, type VideoPath } from './ffmpeg.ts';

export const OWNER_FILE = 'recorder.json';

export interface Owner {
  host: string;
  /** The Live Classroom process. */
  pid: number;
  ffmpegPid: number | undefined;
}

/** Two audio streams: the host's microphone and a speaker's, mixed by FFmpeg. */
export const AUDIO_SLOTS = 2;

/** `count` UDP ports on 127.0.0.1, each with the next one free too (FFmpeg uses port + 1 for RTCP). */
export async function freePortPairs(count: number): Promise<number[]> {
  const ports: number[] = [];
  const held: Array<ReturnType<typeof createSocket>> = [];
  const bind = (port: number) =>
    new Promise<ReturnType<typeof createSocket> | undefined>((resolve) => {
      const socket = createSocket('udp4');
      socket.once('error', () => {
        socket.close();
        resolve(undefined);
      });
      socket.bind(port, '127.0.0.1', () => resolve(socket));
    });
  try {
    for (let attempt = 0; ports.length < count && attempt < 50; attempt++) {
      const first = await bind(0);
      if (!first) continue;
      const port = first.address().port;
      const second = port < 65535 ? await bind(port + 1) : undefined;
      held.push(first);
      if (second) {
        held.push(second);
        ports.push(port);
      }
    }
  } finally {
    for (const socket of held) socket.close();
  }
  if (ports.length < count) throw new Error('no free UDP ports on 127.0.0.1 for the recorder');
  return ports;
}

export interface ActiveRecording {
  id: string;
  roomId: string;
  dir: string;
  startedAt: Date;
  hls: HlsProcess;
  tap: MediaTap;
  /** H.264 copied from the browser, or VP8 transcoded. */
  videoPath: VideoPath;
}

export interface RecorderStart {
  id: string;
  roomId: string;
  dir: string;
  ffmpegPath: string;
  segmentSeconds: number;
  /** A black keyframe in the video's codec. */
  slate: Buffer | undefined;
  /** NODE_ID, written in the owner file so crash recovery knows its own recordings. */
  node: string;
  codecs: { video: RecorderInput['video']; audio: RecorderInput['audio'] };
  tap: (target: { host: string; videoPort: number; audioPorts: number[]; keyframeIntervalMs: number; videoCodec: 'H264' | 'VP8'; slate?: Buffer; onOtherCodec?: (codec: string) => void }) => MediaTap;
  sources: TapSources;
  /** The video on stage is in another codec than the recording's: the slate is recorded meanwhile. */
  onOtherCodec?: (codec: string) => void;
}

/** Starts FFmpeg, then the tap into it. */
export async function startRecorder(options: RecorderStart): Promise<ActiveRecording> {
  const [videoPort, ...audioPorts] = await freePortPairs(1 + AUDIO_SLOTS);
  const input: RecorderInput = { videoPort: videoPort!, audioPorts, video: options.codecs.video, audio: options.codecs.audio };
  const hls = await startHls({ ffmpegPath: options.ffmpegPath, dir: options.dir, input, segmentSeconds: options.segmentSeconds });
  let tap: MediaTap;
  try {
    const owner: Owner = { host: options.node, pid: process.pid, ffmpegPid: hls.pid };
    await writeFile(join(options.dir, OWNER_FILE), JSON.stringify(owner));
    tap = options.tap({
      host: '127.0.0.1',
      videoPort: videoPort!,
      audioPorts,
      keyframeIntervalMs: options.segmentSeconds * 1000,
      videoCodec: videoPathOf(input) === 'copy' ? 'H264' : 'VP8',
      ...(options.slate ? { slate: options.slate } : {}),
      ...(options.onOtherCodec ? { onOtherCodec: options.onOtherCodec } : {}),
    });
    tap.setSources(options.sources);
  } catch (error) {
    await hls.stop(2000); // FFmpeg would otherwise wait on its ports for ever
    throw error;
  }
  return { id: options.id, roomId: options.roomId, dir: options.dir, startedAt: new Date(), hls, tap, videoPath: videoPathOf(input) };
}

/** Whether a process runs: an exited one left as a zombie (no init to reap it) does not. */
export function alive(pid: number): boolean {
  try {
    kill(pid, 0);
  } catch {
    return false;
  }
  // An orphan that exited stays a zombie until its new parent reaps it (a container without an
  // init, for one): it is gone all the same.
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // no /proc here: trust the signal
  }
}

/** An FFmpeg left running by a process that died: SIGINT lets it close its files, then it goes. */
export async function stopOrphan(pid: number): Promise<void> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (!cmdline.includes('ffmpeg')) return; // the pid was reused by something else
  try {
    kill(pid, 'SIGINT');
  } catch {
    return;
  }
  for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  if (alive(pid)) {
    try {
      kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

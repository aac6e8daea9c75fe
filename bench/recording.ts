// What recording costs, on both video paths: FFmpeg's CPU while it records one class (Chromium's
// fake camera through the widget, and Opus), and the time from "Stop recording" to a playable,
// listed VOD. "copy": the SFU takes H.264 from the browser (MEDIA_VIDEO_CODECS=H264,VP8, the
// default) and FFmpeg copies it into the segments; "transcode": the SFU takes VP8
// (MEDIA_VIDEO_CODECS=VP8) and FFmpeg decodes it and encodes H.264 720p25 (libx264 veryfast).
// The audio is mixed and encoded as AAC on both. Usage: node bench/recording.ts [--seconds=20]
// [--runs=3] [--paths=copy,transcode]
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { openCoursePage, startBrowser } from '../test/helpers/browser.ts';
import { startClassroom } from '../test/helpers/classroom.ts';
import { cpuSecondsOf } from './stats.ts';

const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '20' }, runs: { type: 'string', default: '3' }, paths: { type: 'string', default: 'copy,transcode' } } });
const seconds = Number(args.seconds);
const CODECS: Record<string, string> = { copy: 'H264,VP8', transcode: 'VP8' };
const run = promisify(execFile);

const cpuSeconds = (pid: number) => cpuSecondsOf(`/proc/${pid}/stat`);

/** The frame sizes in a recording, most frequent first. */
async function frameSizes(dir: string): Promise<string> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v', '-show_entries', 'frame=width,height', '-of', 'csv=p=0', join(dir, 'index.m3u8')]);
  const counts = new Map<string, number>();
  for (const line of stdout.split('\n').filter((l) => l.trim() !== '')) {
    const size = line.split(',').slice(0, 2).join('x');
    counts.set(size, (counts.get(size) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1]).map(([size]) => size).join(' ');
}

async function bench(path: string): Promise<string[]> {
  const c = await startClassroom('moodle', { env: { MEDIA_VIDEO_CODECS: CODECS[path]! } });
  const browser = await startBrowser({ webrtcLoopback: true });
  const rows: string[] = [];
  try {
    const { frame } = await openCoursePage(browser, c.platform.coursePageUrl({ roles: 'instructor', user: { id: 'bench-teacher', name: 'Teacher' }, resourceLink: { id: 'bench-rec', title: 'Bench' } }));
    await frame.getByRole('button', { name: 'Go live' }).click();
    await new Promise((r) => setTimeout(r, 3000));
    for (let n = 1; n <= Number(args.runs); n++) {
      await frame.getByRole('button', { name: 'Record' }).click();
      await frame.locator('[data-recording-indicator]').waitFor({ timeout: 15_000 });
      const active = (await c.service.repositories.recordings.listUnfinished())[0]!;
      const state = c.service.recordings.state(active.roomId);
      if (state.videoPath !== path) throw new Error(`the recording's video path is ${state.videoPath}, not ${path}`);
      const dir = c.service.recordings.folder(active);
      const owner = JSON.parse(readFileSync(join(dir, 'recorder.json'), 'utf8')) as { ffmpegPid: number };
      await new Promise((r) => setTimeout(r, 3000)); // past FFmpeg's start
      const cpu0 = cpuSeconds(owner.ffmpegPid);
      const t0 = Date.now();
      await new Promise((r) => setTimeout(r, seconds * 1000));
      const share = (cpuSeconds(owner.ffmpegPid) - cpu0) / ((Date.now() - t0) / 1000);
      const stopAt = Date.now();
      await frame.getByRole('button', { name: 'Stop recording' }).click();
      let ready;
      for (;;) {
        ready = await c.service.recordings.get(active.id);
        if (ready && ready.status !== 'recording') break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const stopToReady = Date.now() - stopAt;
      const sizes = await frameSizes(dir);
      rows.push(`${path.padEnd(9)}  ${String(n).padStart(3)}  ${(share * 100).toFixed(1).padStart(6)}%  ${String(stopToReady).padStart(8)} ms  ${((ready.durationMs ?? 0) / 1000).toFixed(1).padStart(7)} s  ${((ready.sizeBytes ?? 0) / 1e6).toFixed(2).padStart(7)} MB  ${ready.status.padEnd(6)}  ${sizes}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  } finally {
    await browser.close();
    await c.close();
  }
  return rows;
}

const rows: string[] = [];
for (const path of args.paths.split(',')) rows.push(...(await bench(path.trim())));
console.log(`recording one class: Chromium fake camera (widget) + Opus -> FFmpeg -> HLS (AAC audio); ${seconds} s measured per run`);
console.log('copy: H.264 from the browser copied; transcode: VP8 decoded, libx264 veryfast 1280x720 25 fps');
console.log('path       run  FFmpeg CPU (1 core = 100%)  stop→ready  duration     size  status  frame sizes (most first)');
for (const row of rows) console.log(row);

// What recording costs: FFmpeg's CPU while it records one class (Chromium's fake camera, VP8 640x480,
// and Opus, transcoded to H.264 720p25 + AAC), and the seconds from "Stop recording" to a playable,
// listed VOD. Usage: node bench/recording.ts [--seconds=20] [--runs=3]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openCoursePage, startBrowser } from '../test/helpers/browser.ts';
import { startClassroom } from '../test/helpers/classroom.ts';

const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '20' }, runs: { type: 'string', default: '3' } } });
const seconds = Number(args.seconds);
const TICKS = 100; // USER_HZ

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

const c = await startClassroom('moodle');
const browser = await startBrowser({ webrtcLoopback: true });
try {
  const { frame } = await openCoursePage(browser, c.platform.coursePageUrl({ roles: 'instructor', user: { id: 'bench-teacher', name: 'Teacher' }, resourceLink: { id: 'bench-rec', title: 'Bench' } }));
  await frame.getByRole('button', { name: 'Go live' }).click();
  await new Promise((r) => setTimeout(r, 3000));
  const rows: string[] = [];
  for (let run = 1; run <= Number(args.runs); run++) {
    await frame.getByRole('button', { name: 'Record' }).click();
    await frame.locator('[data-recording-indicator]').waitFor({ timeout: 15_000 });
    const active = (await c.service.repositories.recordings.listUnfinished())[0]!;
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
      await new Promise((r) => setTimeout(r, 50));
    }
    const stopToReady = Date.now() - stopAt;
    rows.push(`${String(run).padStart(3)}  ${(share * 100).toFixed(1).padStart(6)}%  ${String(stopToReady).padStart(8)} ms  ${((ready.durationMs ?? 0) / 1000).toFixed(1).padStart(7)} s  ${((ready.sizeBytes ?? 0) / 1e6).toFixed(2).padStart(7)} MB  ${ready.status}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
  console.log(`recording one class: Chromium fake camera (VP8) + Opus -> FFmpeg (libx264 veryfast 720p25 + AAC) -> HLS; ${seconds} s measured per run`);
  console.log('run  FFmpeg CPU (1 core = 100%)  stop→ready  duration     size  status');
  for (const row of rows) console.log(row);
} finally {
  await browser.close();
  await c.close();
}

// Seconds from a student's LTI launch to the first decoded video frame in their Chromium, with the
// instructor already live on a fake camera. Each join is a new page in the LMS course page: the
// OIDC login, the id_token POST, the launch page, the widget bundle, the socket, the access
// decision, the receiving connection (ICE, DTLS), then the first keyframe decoded.
// Usage: node bench/join.ts [joins (10)]
import { cpus } from 'node:os';
import type { Frame } from 'playwright-core';
import { startBrowser } from '../test/helpers/browser.ts';
import { startClassroom } from '../test/helpers/classroom.ts';
import { formatMs, percentile } from './stats.ts';

const joins = Number(process.argv[2] ?? 10);
const FRAME = 'iframe#lti-tool-frame';

const c = await startClassroom('moodle');
const browser = await startBrowser({ webrtcLoopback: true });
try {
  const resourceLink = { id: 'bench-join', title: 'Bench lecture' };
  const openFrame = async (url: string): Promise<{ frame: Frame; close: () => Promise<void> }> => {
    const page = await browser.context.newPage();
    await page.goto(url, { waitUntil: 'commit' });
    let frame: Frame | null | undefined;
    for (let i = 0; i < 400 && !frame; i++) {
      frame = await (await page.locator(FRAME).elementHandle({ timeout: 20_000 }))?.contentFrame();
      if (!frame) await new Promise((r) => setTimeout(r, 10));
    }
    if (!frame) throw new Error('no tool frame');
    return { frame, close: () => page.close() };
  };

  const teacher = await openFrame(c.platform.coursePageUrl({ roles: 'instructor', user: { id: 'teacher', name: 'Teacher' }, resourceLink }));
  await teacher.frame.locator('live-classroom [data-connection="connected"]').waitFor({ timeout: 20_000 });
  await teacher.frame.getByRole('button', { name: 'Go live' }).click();
  await teacher.frame.getByRole('button', { name: 'Camera', pressed: true }).waitFor({ timeout: 20_000 });
  await new Promise((r) => setTimeout(r, 2_000));

  const total: number[] = [];
  const toConnected: number[] = [];
  for (let i = 0; i < joins; i++) {
    const url = c.platform.coursePageUrl({ roles: 'learner', user: { id: `student-${i}`, name: `Student ${i}` }, resourceLink });
    const started = performance.now();
    const student = await openFrame(url);
    let connectedAt: number | undefined;
    for (;;) {
      const state = (await student.frame.evaluate(`(async () => {
        const el = document.querySelector('live-classroom');
        if (!el || !el.mediaStats) return { frames: 0, connected: false };
        const connected = !!el.shadowRoot?.querySelector('[data-connection="connected"]');
        const totals = await el.mediaStats();
        return { frames: totals ? totals.framesDecoded : 0, connected };
      })()`).catch(() => ({ frames: 0, connected: false }))) as { frames: number; connected: boolean };
      if (state.connected && connectedAt === undefined) connectedAt = performance.now();
      if (state.frames > 0) break;
      if (performance.now() - started > 30_000) throw new Error(`join ${i}: no frame within 30 s`);
      await new Promise((r) => setTimeout(r, 10));
    }
    const ms = performance.now() - started;
    total.push(ms);
    toConnected.push((connectedAt ?? performance.now()) - started);
    console.log(`join ${String(i + 1).padStart(2)}: first frame after ${formatMs(ms)} (widget connected after ${formatMs(toConnected.at(-1) ?? 0)})`);
    await student.close();
  }
  console.log(`\n${cpus().length} cores, Node ${process.version}, Chromium headless on 127.0.0.1, embedded PGlite`);
  console.log(`launch → first decoded frame, ${joins} joins: p50 ${formatMs(percentile(total, 50))}, p90 ${formatMs(percentile(total, 90))}, max ${formatMs(Math.max(...total))}`);
  console.log(`launch → widget connected (socket admitted): p50 ${formatMs(percentile(toConnected, 50))}`);
  await teacher.close();
} finally {
  await browser.close();
  await c.close();
}

// Seconds from a student's LTI launch request to the first decoded frame of the instructor's video
// in the student's Chromium, with the instructor already live on a fake camera. Each join is a new
// student opening the LMS course page of the platform simulator, whose frame starts the launch:
// OIDC login initiation (the launch request, t0) -> the platform's auth answer -> the id_token
// POST to /lti/launch (its navigation start) -> the class page and the widget bundle (load event)
// -> the socket and the access decision (welcome) -> the receiving connection (ICE, DTLS) -> the
// first video frame out of the decoder (MediaStreamTrackProcessor on a clone of the track).
// t0 is the browser's own start time of the /lti/login request; the other moments are taken in
// the tool's frame by an init script (epoch milliseconds, the same clock), so polling from here
// adds nothing to them. The HTTP cache is cleared before each join (a first visit) unless --warm.
// Usage: node bench/join.ts [joins (10)] [--warm]
import { cpus } from 'node:os';
import type { Request } from 'playwright-core';
import { openCoursePage, startBrowser } from '../test/helpers/browser.ts';
import { startClassroom } from '../test/helpers/classroom.ts';
import { until } from '../test/helpers/wait.ts';
import { formatMs, percentile } from './stats.ts';

const args = process.argv.slice(2);
const warm = args.includes('--warm');
const joins = Number(args.find((a) => /^\d+$/.test(a)) ?? 10);

/** Runs in every document of every page (browser JavaScript); records only in the tool's class page. */
const RECORD_MOMENTS = `(() => {
  if (!location.pathname.endsWith('/lti/launch')) return;
  const now = () => performance.timeOrigin + performance.now();
  // The launch document's navigation starts when the platform's form POSTs the id_token.
  const moments = (window.__join = { posted: performance.timeOrigin });
  addEventListener('load', () => (moments.loaded ??= now()));
  const NativeSocket = WebSocket;
  window.WebSocket = class extends NativeSocket {
    constructor(url, protocols) {
      super(url, protocols);
      this.addEventListener('message', (e) => {
        if (typeof e.data === 'string' && e.data.startsWith('42["welcome"')) moments.admitted ??= now();
      });
    }
  };
  const NativePc = RTCPeerConnection;
  window.RTCPeerConnection = class extends NativePc {
    constructor(config) {
      super(config);
      this.addEventListener('connectionstatechange', () => {
        if (this.connectionState === 'connected') moments.mediaConnected ??= now();
      });
      this.addEventListener('track', ({ track }) => {
        if (track.kind !== 'video' || moments.frame) return;
        // The first frame the decoder hands out, read from a clone of the track.
        const clone = track.clone();
        const reader = new MediaStreamTrackProcessor({ track: clone }).readable.getReader();
        reader.read().then(({ value }) => {
          moments.frame ??= now();
          value?.close();
          reader.cancel();
          clone.stop();
        });
      });
    }
  };
})();`;

const MOMENTS = ['posted', 'loaded', 'admitted', 'mediaConnected', 'frame'] as const;
type Moment = (typeof MOMENTS)[number];
const LABEL: Record<Moment, string> = { posted: 'id_token posted', loaded: 'class page loaded', admitted: 'socket admitted', mediaConnected: 'media connected', frame: 'first decoded frame' };

const c = await startClassroom('moodle', { env: { MEDIA_GRACE_SECONDS: '1' } });
const browser = await startBrowser({ webrtcLoopback: true });
await browser.context.addInitScript(RECORD_MOMENTS);
try {
  const resourceLink = { id: 'bench-join', title: 'Bench lecture' };
  const { page: teacherPage, frame: teacher } = await openCoursePage(browser, c.platform.coursePageUrl({ roles: 'instructor', user: { id: 'teacher', name: 'Teacher' }, resourceLink }));
  await teacher.getByRole('button', { name: 'Go live' }).click({ timeout: 30_000 });
  await teacher.getByRole('button', { name: 'Camera', pressed: true }).waitFor({ timeout: 30_000 });
  const media = c.service.media;
  await until('the instructor\'s camera and microphone reaching the SFU', () => media.stats().tracks === 2 && media.stats().packetsReceived > 200, 30_000);
  const idleTabs = c.service.classes.mediaTabs;

  const samples: Array<Record<Moment, number>> = [];
  for (let i = 0; i < joins; i++) {
    const page = await browser.context.newPage();
    if (!warm) await (await browser.context.newCDPSession(page)).send('Network.clearBrowserCache');
    let login: Request | undefined;
    page.on('request', (r) => {
      if (!login && new URL(r.url()).pathname.endsWith('/lti/login')) login = r;
    });
    await page.goto(c.platform.coursePageUrl({ roles: 'learner', user: { id: `student-${i}`, name: `Student ${i}` }, resourceLink }), { waitUntil: 'commit' });
    const frame = await until('the class page', () => page.frames().find((f) => f.url().includes('/lti/launch')), 30_000, 20);
    const got = await until(`join ${i + 1}: a decoded frame`, async () => {
      const m = (await frame.evaluate('window.__join')) as Partial<Record<Moment, number>> | undefined;
      return m && MOMENTS.every((k) => typeof m[k] === 'number') ? (m as Record<Moment, number>) : undefined;
    }, 30_000, 50);
    const decoded = (await frame.evaluate('document.querySelector("live-classroom").mediaStats()')) as { framesDecoded: number };
    if (!login || decoded.framesDecoded === 0) throw new Error(`join ${i + 1}: no launch request seen, or getStats counts no frame`);
    const t0 = login.timing().startTime;
    const sample = Object.fromEntries(MOMENTS.map((k) => [k, got[k] - t0])) as Record<Moment, number>;
    samples.push(sample);
    console.log(`join ${String(i + 1).padStart(2)}: ${MOMENTS.map((k) => `${LABEL[k]} ${formatMs(sample[k])}`).join(', ')}`);
    await page.close();
    await until('the student\'s media closed on the server', () => c.service.classes.mediaTabs === idleTabs, 30_000);
  }

  const row = (label: string, values: number[]) =>
    `  ${label.padEnd(40)} p50 ${formatMs(percentile(values, 50)).padStart(7)}   p95 ${formatMs(percentile(values, 95)).padStart(7)}   max ${formatMs(Math.max(...values)).padStart(7)}`;
  console.log(`\n${cpus().length} cores, Node ${process.version}, Chromium headless on 127.0.0.1, embedded PGlite, ${warm ? 'warm' : 'cold (cleared)'} HTTP cache, ${joins} joins`);
  console.log(row('launch request -> first decoded frame', samples.map((s) => s.frame)));
  console.log('breakdown (each step from the previous one):');
  let previous: Moment | undefined;
  for (const k of MOMENTS) {
    console.log(row(`${previous ? LABEL[previous] : 'launch request'} -> ${LABEL[k]}`, samples.map((s) => s[k] - (previous ? s[previous] : 0))));
    previous = k;
  }
  await teacherPage.close();
} finally {
  await browser.close();
  await c.close();
}

// Recording end to end, through real LTI launches into Chromium (fake camera and microphone) in a
// paid course: the instructor ticks and unticks "Record automatically" (students have no such box),
// goes live and records for about 10 s; everyone sees it is being recorded; the VOD appears in the
// "Recordings" list, ffprobe finds ~10 s of video and audio in it, the video being Chromium's own
// H.264 (constrained baseline, copied; FFmpeg's libx264 would make High profile), and it plays in
// the student's Chromium to its last seconds (across the sizes Chromium sent: they usually grow). A student whose payment is withdrawn gets 403 on the playlist and on a segment; an
// expired link gets 403; a forged one too.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { eq } from 'drizzle-orm';
import type { Frame } from 'playwright-core';
import { PAID_LINE_ITEM_TAG } from '../../server/access/index.ts';
import { rooms } from '../../server/db/schema.ts';
import { openCoursePage, startBrowser, type Browser } from '../helpers/browser.ts';
import { startClassroom, type Classroom } from '../helpers/classroom.ts';
import { until } from '../helpers/wait.ts';

const run = promisify(execFile);
const CONTEXT = { id: 'rec-course', title: 'Recorded course' };
const LINK = { id: 'rec-room', title: 'Week 5: Recording' };
const PAID = { live_classroom_policy: 'paid' };

interface Listed {
  id: string;
  status: string;
  durationMs: number | null;
  playlistUrl?: string;
}


describe('recording a live class to a VOD, in Chromium through LTI launches', () => {
  let c: Classroom;
  let browser: Browser;
  before(async () => {
    c = await startClassroom('moodle', { env: { ACCESS_CACHE_SECONDS: '0' } });
    browser = await startBrowser({ webrtcLoopback: true });
  });
  after(async () => {
    await browser?.close();
    await c?.close();
  });

  const open = (user: string, roles: 'instructor' | 'learner') =>
    openCoursePage(browser, c.platform.coursePageUrl({ roles, user: { id: user, name: user }, context: CONTEXT, resourceLink: LINK, custom: PAID }));
  const listed = (frame: Frame) => frame.evaluate('document.querySelector("live-classroom").shadowRoot.querySelector("lc-recordings")._list ?? []') as Promise<Listed[]>;

  it('records what is on stage, lists it, plays it, and refuses it to whoever may not watch', async (t) => {
    const teacher = await open('Rita Teacher', 'instructor');
    const item = await until('the fee line item', async () => c.platform.lineItems(CONTEXT.id).find((i) => i.tag === PAID_LINE_ITEM_TAG));
    c.platform.setResult(item.id, 'Paula Paid', 1);
    const student = await open('Paula Paid', 'learner');
    await c.service.recordings.init();
    assert.equal(c.service.recordings.unavailable, undefined, 'FFmpeg is installed on this machine');

    // "Record automatically" is the instructor's alone; ticked and unticked, the room's setting follows.
    assert.equal(await student.frame.getByRole('checkbox', { name: 'Record automatically' }).count(), 0);
    const autoRecord = async () => (await c.service.database!.orm.select().from(rooms).where(eq(rooms.resourceLinkId, LINK.id)))[0]?.autoRecord;
    const box = teacher.frame.getByRole('checkbox', { name: 'Record automatically' });
    await box.check();
    await until('the room set to record automatically', async () => (await autoRecord()) === true);
    await box.uncheck();
    await until('the room set back to the Record button', async () => (await autoRecord()) === false);
    await teacher.frame.getByRole('button', { name: 'Go live' }).click();
    await teacher.frame.getByRole('button', { name: 'Record' }).click();
    await teacher.frame.locator('[data-recording-indicator]').waitFor({ timeout: 15_000 });
    await student.frame.locator('[data-recording-indicator]').waitFor({ timeout: 15_000 });
    // Chromium sends H.264 (the SFU prefers it), so the recording copies it.
    const recording = (await c.service.repositories.recordings.listUnfinished())[0]!;
    assert.equal(c.service.recordings.state(recording.roomId).videoPath, 'copy');
    const startedAt = recording.startedAt.getTime();
    // The student has no recording controls.
    assert.equal(await student.frame.getByRole('button', { name: 'Record' }).count(), 0);
    assert.equal(await student.frame.getByRole('button', { name: 'Stop recording' }).count(), 0);
    await new Promise((r) => setTimeout(r, 10_000));
    const stopAt = Date.now();
    await teacher.frame.getByRole('button', { name: 'Stop recording' }).click();
    const stopped = await until('the recording stopped', async () => (await c.service.recordings.get(recording.id))?.endedAt ?? undefined, 30_000);
    const vod = await until('the VOD ready in the student\'s list', async () => (await listed(student.frame)).find((r) => r.status === 'ready'), 30_000);
    t.diagnostic(`stop → listed as ready: ${Date.now() - stopAt} ms; duration ${vod.durationMs} ms`);
    assert.equal(await student.frame.locator('[data-recording-indicator]').count(), 0, 'nobody sees "Recording" any more');
    await student.frame.getByRole('heading', { name: 'Recordings' }).waitFor();
    assert.ok(vod.playlistUrl);

    // ffprobe reads the VOD over HTTP, through the student's signed link.
    const playlist = new URL(vod.playlistUrl!, `${c.service.url}/lti/launch`).href;
    const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type,codec_name,profile,width,height:format=duration', '-of', 'json', playlist]);
    const probed = JSON.parse(stdout) as { streams: Array<{ codec_type: string; codec_name: string; profile?: string }>; format: { duration: string } };
    t.diagnostic(`ffprobe: ${JSON.stringify(probed.streams)} ${probed.format.duration} s`);
    assert.deepEqual(probed.streams.map((s) => s.codec_type).sort(), ['audio', 'video']);
    const video = probed.streams.find((s) => s.codec_type === 'video')!;
    assert.equal(video.codec_name, 'h264');
    assert.match(video.profile ?? '', /Baseline/, 'the browser\'s own H.264, not re-encoded');
    // As long as it was recording (from its start to the stop, however long a loaded machine made
    // the wait), within the 2 s segment FFmpeg was cutting when it stopped and a second of start-up.
    const seconds = Number(probed.format.duration);
    const recordedFor = (stopped.getTime() - startedAt) / 1000;
    assert.ok(seconds > 5 && Math.abs(seconds - recordedFor) <= 3, `${seconds} s in the VOD for ${recordedFor} s recorded`);

    // It plays in the student's Chromium (hls.js, loaded only now); then, sought to its last
    // seconds, it plays there too (not waiting out the whole recording in real time, which a loaded
    // machine stretches).
    await student.frame.getByRole('button', { name: /^Play/ }).first().click();
    const widths = new Set<number>();
    const VIDEO = `document.querySelector("live-classroom").shadowRoot.querySelector("lc-recordings").shadowRoot.querySelector("video")`;
    const watch = (from: number) => async () => {
      const state = (await student.frame.evaluate(`(() => { const v = ${VIDEO}; return v && { time: v.currentTime, ready: v.readyState, width: v.videoWidth }; })()`)) as { time: number; ready: number; width: number } | null;
      if (state?.width) widths.add(state.width);
      return state && state.time > from && state.width > 0 ? state : undefined;
    };
    await until('the VOD playing', watch(1), 60_000);
    await student.frame.evaluate(`${VIDEO}.currentTime = ${seconds - 3}`);
    const played = await until('the VOD playing its last seconds', watch(seconds - 2.5), 60_000);
    t.diagnostic(`played: ${JSON.stringify(played)}; widths seen: ${[...widths].join(', ')}`);

    const segment = playlist.replace('index.m3u8', 'segment-00000.ts');
    assert.equal((await fetch(playlist)).status, 200);
    assert.equal((await fetch(segment)).status, 200);
    // A forged signature, and a link that expired.
    assert.equal((await fetch(playlist.replace(/s=[^&]+/, 's=forged'))).status, 403);
    const expired = (await c.service.recordings.list((await c.service.repositories.rooms.get((await c.service.recordings.get(vod.id))!.roomId))!.courseId, 'nobody', Date.now() - 6 * 3600_000))[0]!;
    const expiredResponse = await fetch(new URL(expired.playlistUrl!, c.service.url));
    assert.equal(expiredResponse.status, 403);
    assert.match(await expiredResponse.text(), /expired/);
    // The payment is withdrawn: the same student's links stop working, playlist and segments alike.
    c.platform.setResult(item.id, 'Paula Paid', 0);
    const refused = await fetch(playlist);
    assert.equal(refused.status, 403);
    assert.match(await refused.text(), /course fee not paid/);
    assert.equal((await fetch(segment)).status, 403);
  });
});

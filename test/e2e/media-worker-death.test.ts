// A mediasoup worker killed (SIGKILL) in the middle of a recorded class, in Chromium through LTI
// launches: the class goes on without anyone reloading (the widgets are told their connections
// failed and make fresh ones, on the worker that replaced the dead one), the recording closes
// playable and the instructor is told why, and the metric counts the exit. Runs where mediasoup's
// worker does (always under .ci/run); the werift engine has no worker process to kill.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MediasoupEngine } from '../../server/media/index.ts';
import { openCoursePage, startBrowser, type Browser } from '../helpers/browser.ts';
import { startClassroom, type Classroom } from '../helpers/classroom.ts';
import { ENGINES, mediasoupProblem } from '../helpers/media-engines.ts';
import { flowing, mediaStats } from '../helpers/media-stats.ts';
import { until } from '../helpers/wait.ts';

const LINK = { id: 'worker-death', title: 'Week 7: a worker dies' };

describe('a mediasoup worker that dies during a class', { skip: !ENGINES.includes('mediasoup') && `mediasoup's worker does not run here (${mediasoupProblem})` }, () => {
  let c: Classroom;
  let browser: Browser;
  before(async () => {
    c = await startClassroom('moodle', { env: { MEDIA_ENGINE: 'mediasoup', MEDIA_WORKERS: '1' } });
    browser = await startBrowser({ webrtcLoopback: true });
  });
  after(async () => {
    await browser?.close();
    await c?.close();
  });

  const open = (user: string, roles: 'instructor' | 'learner') => openCoursePage(browser, c.platform.coursePageUrl({ roles, user: { id: user, name: user }, resourceLink: LINK }));

  it('is replaced; the class goes on without a reload, and the recording closes playable with the reason', async (t) => {
    const media = c.service.media;
    assert.ok(media instanceof MediasoupEngine, `the class runs on mediasoup (it runs on ${media.engine})`);
    const teacher = await open('Wes Teacher', 'instructor');
    const student = await open('Sam Student', 'learner');
    await teacher.frame.getByRole('button', { name: 'Go live' }).click();
    await teacher.frame.getByRole('button', { name: 'Camera', pressed: true }).waitFor();
    await flowing('video and audio at the student', () => mediaStats(student.frame));
    await teacher.frame.getByRole('button', { name: 'Record' }).click();
    await teacher.frame.locator('[data-recording-indicator]').waitFor({ timeout: 15_000 });
    const recording = await until('the recording in the library', async () => (await c.service.repositories.recordings.listUnfinished())[0]);
    await new Promise((resolve) => setTimeout(resolve, 4_000)); // a few segments to keep
    for (const seat of [teacher, student]) await seat.frame.evaluate('window.notReloaded = true');

    const [pid] = media.workerPids();
    assert.ok(pid, 'a worker process runs');
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');

    // A fresh worker takes its place, and the widgets reconnect their media to it.
    const replacement = await until('a replacement worker', () => media.workerPids().find((other) => other !== pid));
    const before = await mediaStats(student.frame).catch(() => ({ framesDecoded: 0, audioPacketsReceived: 0 }));
    const after = await flowing('video and audio at the student again', () => mediaStats(student.frame), before, 30_000);
    t.diagnostic(`worker ${pid} killed; worker ${replacement} serving; the student decodes again ${Date.now() - killedAt} ms later (${after.framesDecoded} frames on the new connection)`);
    for (const seat of [teacher, student]) assert.equal(await seat.frame.evaluate('window.notReloaded'), true, 'no page was reloaded');
    assert.equal(media.findRoom(media.roomIds()[0]!)?.counts().publishers, 1, 'the instructor publishes again');

    // The recording closed, playable, and the instructor is told why.
    const closed = await until('the recording closed', async () => {
      const row = await c.service.recordings.get(recording.id);
      return row?.endedAt ? row : undefined;
    }, 30_000);
    assert.equal(closed.status, 'interrupted');
    assert.match(closed.failureReason ?? '', /media server process serving this class stopped/);
    await teacher.frame.getByText(/Recording: The recording stopped: the media server process serving this class stopped/).waitFor({ timeout: 15_000 });
    await teacher.frame.locator('[data-recording-indicator]').waitFor({ state: 'detached', timeout: 15_000 });

    // The exit is counted for the operator.
    const metrics = await fetch(`${c.service.url}/metrics`).then((r) => r.text()); // loopback may read it
    assert.match(metrics, /live_classroom_media_worker_exits_total\{engine="mediasoup"\} 1/);
  });
});

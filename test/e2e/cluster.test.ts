// Two nodes in Chromium, as a university would run them behind one address: the course page comes
// from node A (PUBLIC_URL), but the room lives on node B (its first participant reached B). The
// instructor's and the student's widgets are sent to B without a word to the user, the class runs
// there with real camera and microphone, then B is shut down (SIGTERM's path): both widgets are
// told to come back, A takes the class over, and the student sees the instructor again on the same
// page, without a reload. Needs DATABASE_URL and REDIS_URL (`.ci/run` sets both); skipped otherwise.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Socket } from 'socket.io-client';
import { parseSettings } from '../../config/index.ts';
import { createLogger } from '../../server/logger/index.ts';
import { Service } from '../../server/service.ts';
import { openCoursePage, startBrowser, type Browser } from '../helpers/browser.ts';
import { connect, launchAs, startClassroom, type Classroom } from '../helpers/classroom.ts';
import { flowing, mediaStats } from '../helpers/media-stats.ts';
import { serverUrl } from '../helpers/postgres.ts';
import { freePort } from '../helpers/ports.ts';
import { until } from '../helpers/wait.ts';

const redisUrl = process.env.REDIS_URL || undefined;
const skip = !serverUrl ? 'DATABASE_URL is not set' : !redisUrl ? 'REDIS_URL is not set' : false;

describe('a class on the node that holds its room, and a drained node, in Chromium', { skip }, () => {
  let a: Classroom;
  let b: Service;
  let browser: Browser;
  let bDir: string;
  const sockets: Socket[] = [];

  before(async () => {
    const [portA, portB] = [await freePort(), await freePort()];
    const [urlA, urlB] = [`http://127.0.0.1:${portA}`, `http://127.0.0.1:${portB}`];
    const shared = { REDIS_URL: redisUrl as string, LTI_KEY: randomBytes(24).toString('hex'), PUBLIC_URL: urlA, MEDIA_GRACE_SECONDS: '2' };
    a = await startClassroom('moodle', { databaseUrl: serverUrl as string, env: { ...shared, PORT: String(portA), NODE_ID: `e2e-a-${portA}`, NODE_URL: urlA } });
    bDir = mkdtempSync(join(tmpdir(), 'lc-node-b-'));
    const settings = parseSettings({
      ...shared, DATA_DIR: bDir, PORT: String(portB), HOST: '127.0.0.1', LOG_LEVEL: 'silent',
      DATABASE_URL: a.service.settings.databaseUrl as string, NODE_ID: `e2e-b-${portB}`, NODE_URL: urlB,
    });
    b = await Service.start(settings, createLogger(settings.logLevel));
    await b.whenDatabaseReady();
    browser = await startBrowser({ webrtcLoopback: true });
  });

  after(async () => {
    for (const socket of sockets) socket.close();
    await browser?.close();
    await b?.stop();
    await a?.close();
    if (bDir) rmSync(bDir, { recursive: true, force: true });
  });

  const room = { id: 'cluster-room', title: 'Week 9' };
  const on = (service: Service, userId: string) => [...service.realtime.io.of('/').sockets.values()].some((s) => s.data.userId === userId);
  const userIdOf = (service: Service, name: string) => [...service.realtime.io.of('/').sockets.values()].find((s) => s.data.name === name)?.data.userId;

  it('sends both widgets to the room\'s node, then back to the other node when it drains, and the class goes on', async () => {
    // A teaching assistant reached node B first: the room is B's.
    const ta = await launchAs(a.platform, { user: { id: 'cluster-ta', name: 'TA' }, roles: 'instructor', resourceLink: room });
    const first = await connect({ url: b.url }, ta.seat);
    sockets.push(first.socket);
    assert.equal(first.kind, 'welcome');
    assert.deepEqual(first.redirects, []);

    // Both course pages come from node A; their widgets end up on node B.
    const teacher = await openCoursePage(browser, a.platform.coursePageUrl({ roles: 'instructor', user: { id: 'cluster-teacher', name: 'Ada Teacher' }, resourceLink: room }));
    const student = await openCoursePage(browser, a.platform.coursePageUrl({ roles: 'learner', user: { id: 'cluster-student', name: 'Sam Student' }, resourceLink: room }));
    for (const seat of [teacher, student]) await seat.frame.locator('[data-connection="connected"]').waitFor();
    const teacherId = userIdOf(b, 'Ada Teacher');
    const studentId = userIdOf(b, 'Sam Student');
    assert.ok(teacherId && studentId, 'both widgets are connected to node B');
    assert.ok(!on(a.service, teacherId) && !on(a.service, studentId), 'and not to node A');

    await teacher.frame.getByRole('button', { name: 'Go live' }).click();
    await teacher.frame.getByRole('button', { name: 'Camera', pressed: true }).waitFor();
    await student.frame.locator('figure.big video[aria-label="Ada Teacher\'s camera"]').waitFor();
    await flowing('video and audio from node B at the student', () => mediaStats(student.frame));
    assert.equal(b.classes.mediaTabs >= 2, true);

    // Node B shuts down (the path SIGTERM takes): the widgets come back through node A.
    await student.frame.evaluate('window.notReloaded = true');
    await b.stop();
    for (const seat of [teacher, student]) await seat.frame.locator('[data-connection="connected"]').waitFor({ timeout: 30_000 });
    await until('both widgets on node A', async () => on(a.service, teacherId) && on(a.service, studentId));
    await until('both tabs\' media on node A', async () => a.service.classes.mediaTabs >= 2);
    // Counted from here (a new receiving connection starts its counts again from zero).
    const mark = await mediaStats(student.frame);
    const again = await flowing('video and audio from node A at the student', () => mediaStats(student.frame), mark);
    assert.equal(again.receiving, 'connected');
    assert.equal(await student.frame.evaluate('window.notReloaded'), true, 'the page was not reloaded');
    assert.equal((await mediaStats(teacher.frame)).sending, 'connected', 'the instructor sends again, without pressing anything');
    await teacher.frame.getByRole('button', { name: 'Camera', pressed: true }).waitFor();
  });
});

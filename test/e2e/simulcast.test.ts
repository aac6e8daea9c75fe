// Simulcast on the mediasoup engine, in Chromium through LTI launches: the instructor's camera goes
// out in layers, and each student gets the layer that fits their own link. Bob's Chromium runs in a
// network namespace whose link is held to a few hundred kbit/s (tc); Alice's is not. Bob then
// decodes a smaller picture than Alice, who keeps the top layer: one student on a poor link no
// longer lowers everyone's picture. Both decoded sizes are printed.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Frame } from 'playwright-core';
import { openCoursePage, startBrowser, type Browser } from '../helpers/browser.ts';
import { startClassroom, type Classroom } from '../helpers/classroom.ts';
import { ENGINES, mediasoupProblem } from '../helpers/media-engines.ts';
import { flowing, mediaStats } from '../helpers/media-stats.ts';
import { canIsolate, isolatedHost, type IsolatedHost } from '../helpers/netns.ts';
import { until } from '../helpers/wait.ts';

const LINK = { id: 'simulcast', title: 'Week 8: everyone their own layer' };
const cannotIsolate = canIsolate();
const skip = !ENGINES.includes('mediasoup') ? `mediasoup's worker does not run here (${mediasoupProblem})` : cannotIsolate ? `a throttled link needs a network namespace: ${cannotIsolate}` : false;
const port = (url: string) => Number(new URL(url).port);

/** The decoded size of the instructor's camera on a student's stage. */
const decodedWidth = (frame: Frame) => frame.locator('.stage figure.big video').evaluate((video) => (video as unknown as { videoWidth: number }).videoWidth);

describe('simulcast: each student gets the layer their own link takes', { skip }, () => {
  let c: Classroom;
  let browser: Browser;
  let slowBrowser: Browser;
  let net: IsolatedHost;
  before(async () => {
    c = await startClassroom('moodle', { env: { MEDIA_ENGINE: 'mediasoup' } });
    browser = await startBrowser({ webrtcLoopback: true });
    net = await isolatedHost([port(c.service.url), port(c.platform.baseUrl)]);
    slowBrowser = await startBrowser({ webrtcLoopback: true, executable: net.chromium });
  });
  after(async () => {
    await browser?.close();
    await slowBrowser?.close();
    await net?.close();
    await c?.close();
  });

  const open = (on: Browser, user: string, roles: 'instructor' | 'learner') => openCoursePage(on, c.platform.coursePageUrl({ roles, user: { id: user, name: user }, resourceLink: LINK }));

  it('gives a throttled student a lower layer while an unthrottled one keeps the top one', async (t) => {
    const teacher = await open(browser, 'Lee Teacher', 'instructor');
    const alice = await open(browser, 'alice', 'learner');
    const bob = await open(slowBrowser, 'bob', 'learner');
    await teacher.frame.getByRole('button', { name: 'Go live' }).click();
    await teacher.frame.getByRole('button', { name: 'Camera', pressed: true }).waitFor();
    for (const student of [alice, bob]) await flowing('video at a student', () => mediaStats(student.frame));

    // The camera goes out in more than one layer.
    const layers = await until('the camera sent in layers', async () => {
      const sent = (await mediaStats(teacher.frame)).sentVideo.filter((layer) => layer.rid !== '' && layer.width > 0);
      return sent.length >= 2 ? sent : undefined;
    }, 30_000);
    t.diagnostic(`the instructor sends layers ${layers.map((l) => `${l.rid}:${l.width}`).join(', ')}`);
    const top = Math.max(...layers.map((l) => l.width));

    net.limit(300);
    const widths = await until('bob on a lower layer than alice, alice on the top one', async () => {
      const [a, b] = [await decodedWidth(alice.frame), await decodedWidth(bob.frame)];
      return a === top && b > 0 && b < a ? { alice: a, bob: b } : undefined;
    }, 45_000);
    t.diagnostic(`decoded: alice ${widths.alice} px wide (unthrottled), bob ${widths.bob} px wide (300 kbit/s)`);
    // Bob still gets a moving picture, not a frozen one.
    const before = await mediaStats(bob.frame);
    await until('bob decoding on the lower layer', async () => ((await mediaStats(bob.frame)).framesDecoded > before.framesDecoded + 10 ? true : undefined), 20_000);

    net.restore();
    assert.ok(widths.bob < widths.alice);
  });
});

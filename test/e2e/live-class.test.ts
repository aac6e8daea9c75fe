// A live class end to end, through real LTI launches from the platform simulator into Chromium
// (fake camera and microphone): the instructor goes live, two students see and hear them (frames
// decoded and audio packets counted by the students' own getStats), the instructor mutes and
// shares a screen and the students' stage follows, a student's network really drops (his
// Chromium runs in a network namespace whose link the test takes down: a short blip, then an
// outage long enough for the server to give up on him) and the video resumes without a reload,
// and ending the class leaves no media connection behind.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Frame, Page } from 'playwright-core';
import { openCoursePage, startBrowser, type Browser } from '../helpers/browser.ts';
import { startClassroom, type Classroom } from '../helpers/classroom.ts';
import { flowing as flowingIn, mediaStats, type MediaTotals } from '../helpers/media-stats.ts';
import { canIsolate, isolatedHost, type IsolatedHost } from '../helpers/netns.ts';
import { until } from '../helpers/wait.ts';

interface Seat {
  page: Page;
  frame: Frame;
  stats(): Promise<MediaTotals>;
}

/** Waits until the seat's decoded video and received audio grow past what `from` had (nothing: any). */
const flowing = (seat: Seat, from: MediaTotals | undefined, what: string) => flowingIn(what, seat.stats, from);

/** The frames decoded while nothing should arrive: sampled twice, `ms` apart. */
// Frames already on their way when the link was cut (in the kernel's socket queues, the jitter
// buffer, the decoder) are still decoded; a loaded CI machine showed 4 of them. So the count is
// read once those have drained, then again `ms` later.
async function stalled(seat: Seat, ms: number, settleMs = 1_500): Promise<[number, number]> {
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  const first = (await seat.stats()).framesDecoded;
  await new Promise((resolve) => setTimeout(resolve, ms));
  return [first, (await seat.stats()).framesDecoded];
}

const port = (url: string) => Number(new URL(url).port);

// Root on Linux (as in CI) is needed to make a network namespace; without it, the network cut is
// not checked, and the test says so.
const cannotIsolate = canIsolate();

describe('a live class in Chromium, through LTI launches', () => {
  let c: Classroom;
  let browser: Browser;
  let cutBrowser: Browser;
  let net: IsolatedHost | undefined;
  before(async () => {
    c = await startClassroom('moodle', { env: { MEDIA_GRACE_SECONDS: '2' } });
    browser = await startBrowser({ webrtcLoopback: true });
    if (!cannotIsolate) net = await isolatedHost([port(c.service.url), port(c.platform.baseUrl)]);
    cutBrowser = await startBrowser({ webrtcLoopback: true, ...(net ? { executable: net.chromium } : {}) });
  });
  after(async () => {
    await browser?.close();
    await cutBrowser?.close();
    await net?.close();
    await c?.close();
  });

  const open = async (on: Browser, user: string, roles: 'instructor' | 'learner'): Promise<Seat> => {
    const { page, frame } = await openCoursePage(on, c.platform.coursePageUrl({ roles, user: { id: user, name: user }, resourceLink: { id: 'live-room', title: 'Week 2' } }));
    const stats = () => mediaStats(frame);
    return { page, frame, stats };
  };

  it('carries the instructor\'s camera, microphone and screen to two students, and survives a student\'s network drop', async (t) => {
    const teacher = await open(browser, 'Ada Teacher', 'instructor');
    const alice = await open(browser, 'alice', 'learner');
    const bob = await open(cutBrowser, 'bob', 'learner');
    const mediaTabs = () => c.service.classes.mediaTabs;

    // Students wait; they have no class or media controls (only the chat, Q&A, hands and polls panel).
    await alice.frame.getByText('The class has not started yet').waitFor();
    assert.equal(await alice.frame.getByRole('button', { name: /^(Go live|End class|Camera|Microphone|Share screen)$/ }).count(), 0);

    // Going live starts the class and the instructor's camera and microphone.
    await teacher.frame.getByRole('button', { name: 'Go live' }).click();
    await teacher.frame.getByRole('button', { name: 'Camera', pressed: true }).waitFor();
    await teacher.frame.getByRole('button', { name: 'Microphone', pressed: true }).waitFor();
    await teacher.frame.getByRole('button', { name: 'Share screen', pressed: false }).waitFor();
    await teacher.frame.locator('figure[data-source="self"] video').waitFor();

    for (const student of [alice, bob]) {
      await student.frame.locator('.stage[data-stage="camera"] figure.big video[aria-label="Ada Teacher\'s camera"]').waitFor();
      const totals = await flowing(student, undefined, 'video frames and audio at a student');
      assert.equal(totals.receiving, 'connected');
      assert.equal(totals.sending, 'none', 'students send nothing');
      // Attendees never see publish controls.
      for (const name of ['Camera', 'Microphone', 'Share screen', 'Go live', 'End class']) assert.equal(await student.frame.getByRole('button', { name }).count(), 0, name);
    }
    // The speaking indicator follows the instructor's (beeping, fake) microphone.
    await alice.frame.locator('figure.big[data-speaking]').waitFor();
    const sent = await teacher.stats();
    assert.ok(sent.framesEncoded > 0 && sent.sending === 'connected', JSON.stringify(sent));

    // Muting is shown to everyone.
    await teacher.frame.getByRole('button', { name: 'Microphone' }).click();
    await teacher.frame.getByRole('button', { name: 'Microphone', pressed: false }).waitFor();
    await alice.frame.locator('figure.big').getByText('Microphone off').waitFor();
    await teacher.frame.getByRole('button', { name: 'Microphone' }).click();
    await alice.frame.locator('figure.big').getByText('Microphone off').waitFor({ state: 'detached' });

    // Sharing the screen puts it on the students' stage, large, with the camera small.
    await teacher.frame.getByRole('button', { name: 'Share screen' }).click();
    await teacher.frame.getByRole('button', { name: 'Share screen', pressed: true }).waitFor();
    for (const student of [alice, bob]) {
      await student.frame.locator('.stage[data-stage="screen"] figure.big[data-source="screen"] video').waitFor();
      await student.frame.locator('.tiles figure[data-source="camera"] video').waitFor();
      const before = await student.stats();
      const after = await flowing(student, before, 'screen and camera decoding');
      assert.ok(after.framesDecoded > before.framesDecoded);
    }

    // Bob's network cut needs a network namespace (root, as CI has); the rest of the class is
    // checked without one.
    if (!net) t.diagnostic(`bob's network cut not checked: ${cannotIsolate}`);
    else {
      const link = net;
      await bob.frame.evaluate('window.notReloaded = true');

      // A silent blip (packets vanish, the link stays up, as when a router loses its uplink): the
      // video stops, bob is told while his socket has not noticed anything yet, and the video comes
      // back once the link does, on the same page.
      link.cut('silent');
      const [cutAt, later] = await stalled(bob, 3_000);
      assert.ok(later - cutAt <= 2, `no frames arrive while the link is down (${cutAt} → ${later})`);
      await bob.frame.locator('[data-media-interrupted]').waitFor({ timeout: 15_000 });
      link.restore();
      await flowing(bob, await bob.stats(), 'video again at bob after a short blip');
      await bob.frame.locator('[data-media-interrupted]').waitFor({ state: 'detached' });
      assert.equal(await bob.frame.evaluate('window.notReloaded'), true, 'the page was not reloaded');

      // An outage (the link goes down, as when Wi-Fi is switched off): his widget says it is
      // reconnecting; the link stays down until the server has given up on bob's socket and, after
      // the media grace period, closed his media; then it comes back and so does the video.
      const tabsBefore = mediaTabs();
      link.cut('unplugged');
      await bob.frame.locator('[data-connection="reconnecting"]').waitFor({ timeout: 40_000 });
      await until('the server to drop bob\'s media after the grace period', async () => mediaTabs() < tabsBefore, 40_000);
      link.restore();
      await bob.frame.locator('[data-connection="connected"]').waitFor({ timeout: 30_000 });
      // The socket may say connected a moment before the widget has replaced the receiving
      // connection the server closed (whose counts still hold the frames from before the outage):
      // wait for a connected one, then for frames that arrive on it.
      await until('bob\'s media connected again', async () => (await bob.stats()).receiving === 'connected');
      const resumed = await flowing(bob, await bob.stats(), 'video again at bob after the outage');
      assert.equal(resumed.receiving, 'connected');
      assert.equal(await bob.frame.evaluate('window.notReloaded'), true, 'the page was not reloaded');
      await bob.frame.locator('.stage[data-stage="screen"]').waitFor();
      // Alice, on the same class but not behind the cut link, never stopped.
      await flowing(alice, await alice.stats(), 'alice still decoding');
    }

    // Stopping the share brings the camera back to the large view.
    await teacher.frame.getByRole('button', { name: 'Share screen' }).click();
    await alice.frame.locator('.stage[data-stage="camera"]').waitFor();

    // Ending the class closes every media connection on the server.
    await teacher.frame.getByRole('button', { name: 'End class' }).click();
    for (const student of [alice, bob]) await student.frame.getByText('The class has ended.').first().waitFor();
    await until('no media peers left', async () => mediaTabs() === 0);
    for (const p of [teacher, alice, bob]) await p.page.close();
  });
});

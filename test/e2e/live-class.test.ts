// A live class end to end, through real LTI launches from the platform simulator into Chromium
// (fake camera and microphone): the instructor goes live, two students see and hear them (frames
// decoded and audio packets counted by the students' own getStats), the instructor mutes and
// shares a screen and the students' stage follows, a student's network drops and the video
// resumes without a reload, and ending the class leaves no media connection behind.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Frame, Page } from 'playwright-core';
import { openCoursePage, startBrowser, type Browser } from '../helpers/browser.ts';
import { startClassroom, type Classroom } from '../helpers/classroom.ts';
import { until } from '../helpers/wait.ts';

interface Totals {
  framesDecoded: number;
  audioPacketsReceived: number;
  framesEncoded: number;
  receiving: string;
  sending: string;
}

interface Seat {
  page: Page;
  frame: Frame;
  stats(): Promise<Totals>;
}


/** Waits until the video decoded and audio received both grow past what `from` had. */
async function flowing(seat: Seat, from: Totals, what: string): Promise<Totals> {
  return until(what, async () => {
    const now = await seat.stats();
    return now.framesDecoded > from.framesDecoded + 15 && now.audioPacketsReceived > from.audioPacketsReceived + 25 ? now : undefined;
  });
}

describe('a live class in Chromium, through LTI launches', () => {
  let c: Classroom;
  let browser: Browser;
  let cutBrowser: Browser;
  before(async () => {
    c = await startClassroom('moodle', { env: { MEDIA_GRACE_SECONDS: '2' } });
    browser = await startBrowser({ webrtcLoopback: true });
    cutBrowser = await startBrowser({ webrtcLoopback: true });
  });
  after(async () => {
    await browser?.close();
    await cutBrowser?.close();
    await c?.close();
  });

  const open = async (on: Browser, user: string, roles: 'instructor' | 'learner'): Promise<Seat> => {
    const { page, frame } = await openCoursePage(on, c.platform.coursePageUrl({ roles, user: { id: user, name: user }, resourceLink: { id: 'live-room', title: 'Week 2' } }));
    const stats = () => frame.evaluate('document.querySelector("live-classroom").mediaStats()') as Promise<Totals>;
    return { page, frame, stats };
  };

  it('carries the instructor\'s camera, microphone and screen to two students, and survives a student\'s network drop', async () => {
    const teacher = await open(browser, 'Ada Teacher', 'instructor');
    const alice = await open(browser, 'alice', 'learner');
    const bob = await open(cutBrowser, 'bob', 'learner');
    const media = () => c.service.realtime.media;

    // Students wait; they have no class or media controls (only the chat, Q&A, hands and polls panel).
    await alice.frame.getByText('The class has not started yet').waitFor();
    assert.equal(await alice.frame.getByRole('button', { name: /^(Go live|End class|Camera|Microphone|Share screen)$/ }).count(), 0);

    // Going live starts the class and the instructor's camera and microphone.
    await teacher.frame.getByRole('button', { name: 'Go live' }).click();
    await teacher.frame.getByRole('button', { name: 'Camera', pressed: true }).waitFor();
    await teacher.frame.getByRole('button', { name: 'Microphone', pressed: true }).waitFor();
    await teacher.frame.getByRole('button', { name: 'Share screen', pressed: false }).waitFor();
    await teacher.frame.locator('figure[data-source="self"] video').waitFor();

    const zero: Totals = { framesDecoded: 0, audioPacketsReceived: 0, framesEncoded: 0, receiving: 'none', sending: 'none' };
    for (const student of [alice, bob]) {
      await student.frame.locator('.stage[data-stage="camera"] figure.big video[aria-label="Ada Teacher\'s camera"]').waitFor();
      const totals = await flowing(student, zero, 'video frames and audio at a student');
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

    // Bob's network drops (HTTP and WebSocket) for longer than the media grace period: the server
    // closes his media connections, then his browser comes back and the video resumes, same page.
    await bob.frame.evaluate('window.notReloaded = true');
    const tabsBefore = c.service.realtime.media.counts().tabs;
    await cutBrowser.context.setOffline(true);
    await bob.frame.locator('[data-connection="reconnecting"]').waitFor({ timeout: 20_000 });
    await until('the server to drop bob\'s media after the grace period', async () => media().counts().tabs < tabsBefore);
    await cutBrowser.context.setOffline(false);
    await bob.frame.locator('[data-connection="connected"]').waitFor({ timeout: 30_000 });
    const resumed = await flowing(bob, zero, 'video again at bob after the network came back');
    assert.equal(resumed.receiving, 'connected');
    assert.equal(await bob.frame.evaluate('window.notReloaded'), true, 'the page was not reloaded');
    await bob.frame.locator('.stage[data-stage="screen"]').waitFor();

    // Stopping the share brings the camera back to the large view.
    await teacher.frame.getByRole('button', { name: 'Share screen' }).click();
    await alice.frame.locator('.stage[data-stage="camera"]').waitFor();

    // Ending the class closes every media connection on the server.
    await teacher.frame.getByRole('button', { name: 'End class' }).click();
    for (const student of [alice, bob]) await student.frame.getByText('The class has ended.').first().waitFor();
    await until('no media peers left', async () => media().counts().tabs === 0);
    for (const p of [teacher, alice, bob]) await p.page.close();
  });
});

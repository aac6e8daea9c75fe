// A student brought on stage is heard and seen, end to end: real LTI launches from the platform
// simulator into Chromium (fake camera and microphone), the instructor goes live, a student raises
// a hand and is brought on stage with the instructor's button, turns on camera and microphone with
// the buttons a speaker gets, and the other student and the instructor decode her video and receive
// her audio, counted per publisher by their own getStats (mediaStats().byUser, keyed as the stage's
// figures are). Taken off stage, she loses the controls, the SFU no longer has her publishing and
// keeps no UDP socket of hers (nor of the instructor's receiving transport that carried only her);
// brought back, she is decoded again.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Frame, FrameLocator, Page } from 'playwright-core';
import { openCoursePage, startBrowser, type Browser } from '../helpers/browser.ts';
import { startClassroom, type Classroom } from '../helpers/classroom.ts';
import { flowing, mediaStats, NOTHING, type MediaTotals, type Received } from '../helpers/media-stats.ts';
import { until } from '../helpers/wait.ts';

interface Seat {
  page: Page;
  frame: Frame;
  widget: FrameLocator;
  stats(): Promise<MediaTotals>;
}

const PUBLISH_CONTROLS = ['Camera', 'Microphone', 'Share screen'];

/** UDP sockets open in this process: the tool's media connections (the browsers are other processes). */
const udpSockets = (): number => process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap').length;

/** What `seat` has received from `userId`, once it grew past `from` (video frames decoded and audio packets). */
function flowingFrom(seat: Seat, userId: string, from: Received, what: string): Promise<Received> {
  return flowing(what, async () => (await seat.stats()).byUser[userId], from, 30_000);
}

describe('a student brought on stage, in Chromium, through LTI launches', () => {
  let c: Classroom;
  let browser: Browser;
  before(async () => {
    c = await startClassroom('moodle');
    browser = await startBrowser({ webrtcLoopback: true });
  });
  after(async () => {
    await browser?.close();
    await c?.close();
  });

  const open = async (user: string, roles: 'instructor' | 'learner'): Promise<Seat> => {
    const url = c.platform.coursePageUrl({ roles, user: { id: user, name: user }, resourceLink: { id: 'speaker-room', title: 'Week 3' } });
    const { page, frame, widget } = await openCoursePage(browser, url, { width: 1280, height: 900 });
    return { page, frame, widget, stats: () => mediaStats(frame) };
  };

  it('carries a speaker\'s camera and microphone to the other student and the instructor, stops when she is taken off stage, and again when she is brought back', async () => {
    const teacher = await open('Prof Lee', 'instructor');
    const ana = await open('Ana', 'learner');
    const ben = await open('Ben', 'learner');
    const media = () => c.service.media;
    const room = () => {
      const [roomId] = media().roomIds();
      return roomId === undefined ? undefined : media().findRoom(roomId);
    };
    try {
      await teacher.widget.getByRole('button', { name: 'Go live' }).click();
      await teacher.widget.getByRole('button', { name: 'Camera', pressed: true }).waitFor();
      await ben.widget.locator('figure.big video[aria-label="Prof Lee\'s camera"]').waitFor();
      await ana.widget.locator('figure.big video[aria-label="Prof Lee\'s camera"]').waitFor();
      for (const name of PUBLISH_CONTROLS) assert.equal(await ana.widget.getByRole('button', { name, exact: true }).count(), 0, `an attendee has no ${name} button`);
      const udpBefore = udpSockets();

      // Ana raises her hand; the instructor brings her on stage from the queue.
      await ana.widget.getByRole('tab', { name: 'Hands' }).click();
      await ana.widget.getByRole('button', { name: /Raise hand/ }).click();
      await ana.widget.getByText('Your hand is raised: number 1 in line.').waitFor();
      await teacher.widget.getByRole('tab', { name: /Hands/ }).click();
      await teacher.widget.getByRole('button', { name: 'Bring Ana on stage' }).click();
      const onStage = teacher.widget.locator('[data-speaker]').filter({ hasText: 'Ana' });
      await onStage.waitFor();
      const anaId = await onStage.getAttribute('data-speaker');
      assert.ok(anaId);

      // She now has a speaker's controls, and not a host's.
      await ana.widget.locator('[data-grant="speaker"]').waitFor();
      await ana.widget.getByRole('button', { name: 'Camera', pressed: false }).waitFor();
      await ana.widget.getByRole('button', { name: 'Microphone', pressed: false }).waitFor();
      await ana.widget.getByRole('button', { name: 'Share screen', pressed: false }).waitFor();
      for (const name of ['Go live', 'End class']) assert.equal(await ana.widget.getByRole('button', { name }).count(), 0, `a speaker has no ${name} button`);

      // Camera on asks for camera and microphone together, as for the instructor.
      await ana.widget.getByRole('button', { name: 'Camera' }).click();
      await ana.widget.getByRole('button', { name: 'Camera', pressed: true }).waitFor();
      await ana.widget.getByRole('button', { name: 'Microphone', pressed: true }).waitFor();
      await ana.widget.locator('figure[data-source="self"] video').waitFor();
      const anaTracks = await until('Ana\'s camera and microphone published on the SFU', () => {
        const tracks = room()?.tracks().filter((t) => t.userId.startsWith(`${anaId}/`)) ?? [];
        return tracks.length === 2 ? tracks : undefined;
      });
      assert.deepEqual(anaTracks.map((t) => t.kind).sort(), ['audio', 'video']);
      const anaParticipant = anaTracks[0]?.userId ?? '';
      assert.equal(room()?.counts().publishers, 2, 'the instructor and Ana publish');

      // Ben (a small tile beside the instructor) and the instructor (large) decode Ana's video and get her audio.
      for (const [who, seat] of [['Ben', ben], ['the instructor', teacher]] as const) {
        const figure = seat.widget.locator('figure[data-source="camera"]').filter({ has: seat.widget.locator('video[aria-label="Ana\'s camera"]') });
        await figure.waitFor();
        assert.equal(await figure.getAttribute('data-user'), anaId, `${who} shows Ana's camera in Ana's figure`);
        await flowingFrom(seat, anaId, NOTHING, `Ana's video frames and audio at ${who}`);
        await until(`Ana's picture drawn at ${who}`, () => figure.locator('video').evaluate((v) => (v as unknown as { videoWidth: number }).videoWidth > 0));
        assert.equal(await seat.widget.locator(`audio[data-user="${anaId}"]`).count(), 1, `${who} plays Ana's audio`);
      }
      await ben.widget.locator('figure.big video[aria-label="Prof Lee\'s camera"]').waitFor();
      const sent = await ana.stats();
      assert.ok(sent.sending === 'connected' && sent.framesEncoded > 0, JSON.stringify(sent));

      // Taken off stage: her controls go, the SFU drops her tracks, the others' stage no longer shows her.
      await teacher.widget.getByRole('button', { name: 'Take Ana off stage' }).click();
      await ana.widget.locator('[data-grant="attendee"]').waitFor();
      for (const name of PUBLISH_CONTROLS) await ana.widget.getByRole('button', { name, exact: true }).waitFor({ state: 'detached' });
      await until('Ana no longer publishing on the SFU', () => {
        const r = room();
        return r !== undefined && !r.has(anaParticipant).publisher && r.tracks().every((t) => !t.userId.startsWith(`${anaId}/`));
      });
      assert.equal(room()?.counts().publishers, 1, 'only the instructor publishes');
      // Her sending connection and the instructor's receiving connection's transport (it carried
      // only her) are closed on the server: no UDP socket is left behind.
      await until(`the server's UDP sockets back to ${udpBefore}`, () => {
        if (udpSockets() > udpBefore) throw new Error(`${udpSockets()} open`);
        return true;
      });
      for (const seat of [ben, teacher]) await seat.widget.locator('video[aria-label="Ana\'s camera"]').waitFor({ state: 'detached' });
      // The class goes on: Ben still decodes the instructor.
      const teacherId = await ben.widget.locator('figure.big').getAttribute('data-user');
      assert.ok(teacherId);
      const before = (await ben.stats()).byUser[teacherId] ?? NOTHING;
      await flowingFrom(ben, teacherId, before, 'the instructor still reaching Ben');

      // Brought back later, she publishes again on fresh connections, and Ben decodes her again.
      await ana.widget.getByRole('button', { name: /Raise hand/ }).click();
      await teacher.widget.getByRole('button', { name: 'Bring Ana on stage' }).click();
      await ana.widget.getByRole('button', { name: 'Camera', pressed: false }).click();
      await ana.widget.getByRole('button', { name: 'Camera', pressed: true }).waitFor();
      await ben.widget.locator('video[aria-label="Ana\'s camera"]').waitFor();
      const again = (await ben.stats()).byUser[anaId] ?? NOTHING;
      await flowingFrom(ben, anaId, again, 'Ana\'s video and audio at Ben after she came back on stage');
      assert.equal(room()?.counts().publishers, 2);
    } finally {
      for (const p of [teacher, ana, ben]) if (!p.page.isClosed()) await p.page.close();
    }
  });
});

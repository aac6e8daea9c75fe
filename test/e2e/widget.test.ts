// The <live-classroom> widget in Chromium, framed in the LMS course page after a real launch: the
// instructor sees the host controls and goes live, a waiting student joins without a reload, the
// participant count follows, and a student whose LMS speaks Chinese gets the widget in Chinese.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FrameLocator, Page } from 'playwright-core';
import { openCoursePage, startBrowser, TOOL_FRAME, type Browser } from '../helpers/browser.ts';
import { until } from '../helpers/wait.ts';
import { startClassroom, type Classroom } from '../helpers/classroom.ts';


describe('the live-classroom widget', () => {
  let c: Classroom;
  let browser: Browser;
  before(async () => {
    c = await startClassroom('moodle');
    browser = await startBrowser();
  });
  after(async () => {
    await browser?.close();
    await c?.close();
  });

  const open = async (user: string, roles: 'instructor' | 'learner', locale = 'en'): Promise<{ page: Page; widget: FrameLocator }> => {
    const { page, widget } = await openCoursePage(browser, c.platform.coursePageUrl({ roles, user: { id: user, name: user }, locale, resourceLink: { id: 'widget-room', title: 'Week 1' } }));
    return { page, widget };
  };

  it('lets the instructor go live and end the class, with students joined automatically and no publish controls for them', async () => {
    const teacher = await open('teacher', 'instructor');
    const student = await open('student', 'learner');
    const chinese = await open('student-zh', 'learner', 'zh-CN');
    try {
      // The instructor's controls are real buttons with accessible names; students have none.
      const goLive = teacher.widget.getByRole('button', { name: 'Go live' });
      await goLive.waitFor();
      // (Students do have the chat, Q&A, hands and polls panel's buttons, but no class controls.)
      for (const learner of [student, chinese]) {
        assert.equal(await learner.widget.getByRole('group', { name: /Class controls|课程控制/ }).count(), 0);
        assert.equal(await learner.widget.getByRole('button', { name: /Go live|End class|开始直播|结束课程/ }).count(), 0);
      }
      await student.widget.getByText('The class has not started yet').waitFor();
      await chinese.widget.getByText('课程尚未开始').waitFor();
      await teacher.widget.locator('[data-participants="3"]').waitFor();
      assert.equal(await teacher.widget.locator('[data-participants]').textContent(), '3 participants');
      assert.equal(await chinese.widget.locator('[data-participants]').textContent(), '3 位参与者');
      assert.equal(await student.widget.locator('[data-grant]').textContent(), 'Attendee');
      assert.equal(await teacher.widget.locator('[data-grant]').textContent(), 'Host');

      await goLive.click();
      await student.widget.locator('[data-status="live"]').waitFor();
      // The LMS's frame (640 px in the simulator, like Canvas's default) grows to the whole widget
      // on lti.frameResize: the host's controls and the recordings are not cut off.
      await teacher.widget.getByRole('button', { name: 'Share screen' }).waitFor();
      const frameFits = (what: string, big: (height: number) => boolean) =>
        until(what, async () => {
          const frameHeight = (await teacher.page.evaluate(`document.getElementById('lti-tool-frame').getBoundingClientRect().height`)) as number;
          const inner = await teacher.widget.locator('body').evaluate((body) => body.scrollHeight);
          return big(frameHeight) && Math.abs(frameHeight - inner) <= 2 ? frameHeight : undefined;
        });
      const liveHeight = await frameFits('the tool frame to fit the live widget', (h) => h > 640);
      await chinese.widget.getByText('直播中').waitFor();
      await teacher.widget.getByRole('button', { name: 'End class' }).click();
      await student.widget.getByText('The class has ended.').first().waitFor();
      // ... and shrinks back when the stage goes.
      await frameFits('the tool frame to shrink with the ended class', (h) => h < liveHeight - 30);
      await chinese.widget.getByText('课程已结束。').first().waitFor();

      // A student who leaves is counted out.
      await chinese.page.close();
      await teacher.widget.locator('[data-participants="2"]').waitFor();
    } finally {
      for (const p of [teacher, student, chinese]) if (!p.page.isClosed()) await p.page.close();
    }
  });

  it('says why someone cannot join in the user\'s language: a full room, in Chinese', async () => {
    const teacher = await open('teacher-full', 'instructor');
    const seat = (await teacher.page.frameLocator(TOOL_FRAME).locator('live-classroom').getAttribute('seat-token')) ?? '';
    const roomId = c.service.seats.verify(seat).roomId;
    const patch = await fetch(`${c.service.url}/api/rooms/${roomId}/settings`, { method: 'PATCH', headers: { authorization: `Bearer ${seat}`, 'content-type': 'application/json' }, body: JSON.stringify({ seatLimit: 1 }) });
    assert.equal(patch.status, 200);
    const first = await open('student-first', 'learner');
    const page = await browser.context.newPage();
    await page.goto(c.platform.coursePageUrl({ roles: 'learner', user: { id: 'student-late', name: 'student-late' }, locale: 'zh-CN', resourceLink: { id: 'widget-room', title: 'Week 1' } }));
    const alert = page.frameLocator(TOOL_FRAME).getByRole('alert');
    await alert.waitFor({ timeout: 20_000 });
    assert.equal(await alert.textContent(), '你无法加入本课程：教室已满，请在有人离开后再试');
    await page.frameLocator(TOOL_FRAME).locator('[data-connection="closed"]').waitFor();
    for (const p of [teacher.page, first.page, page]) await p.close();
    await fetch(`${c.service.url}/api/rooms/${roomId}/settings`, { method: 'PATCH', headers: { authorization: `Bearer ${seat}`, 'content-type': 'application/json' }, body: JSON.stringify({ seatLimit: null }) });
  });

  it('serves the widget as one ES module, revalidated by ETag', async () => {
    const first = await fetch(`${c.service.url}/widget/live-classroom.js`);
    assert.equal(first.status, 200);
    assert.match(first.headers.get('content-type') ?? '', /javascript/);
    const code = await first.text();
    assert.match(code, /live-classroom/);
    assert.doesNotMatch(code, /^import .* from ["'](lit|socket\.io-client)["']/m, 'bundled: no bare imports left for the browser');
    const etag = first.headers.get('etag') ?? '';
    const again = await fetch(`${c.service.url}/widget/live-classroom.js`, { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
  });
});

// Class interaction in Chromium, framed in the LMS course page after real launches: a student's
// anonymous question appears on the instructor's screen (with the name, for the instructor only)
// and gets answered; a poll's result reaches every student once shared; chat text stays text; a
// raised hand is brought on stage. Everything by the controls' accessible names, as a keyboard or
// screen reader user would find them.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FrameLocator, Page } from 'playwright-core';
import { openCoursePage, startBrowser, type Browser } from '../helpers/browser.ts';
import { startClassroom, type Classroom } from '../helpers/classroom.ts';


describe('the interaction panels in Chromium', () => {
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

  const open = async (user: string, roles: 'instructor' | 'learner'): Promise<{ page: Page; widget: FrameLocator }> => {
    const { page, widget } = await openCoursePage(browser, c.platform.coursePageUrl({ roles, user: { id: user, name: user }, resourceLink: { id: 'interaction-room', title: 'Week 2' } }), { width: 1280, height: 900 });
    await widget.getByRole('tab', { name: 'Chat' }).waitFor();
    return { page, widget };
  };

  it('puts a student\'s question on the instructor\'s screen, answers it, and shares a poll\'s result with every student', async () => {
    const teacher = await open('Prof Lee', 'instructor');
    const ana = await open('Ana', 'learner');
    const ben = await open('Ben', 'learner');
    try {
      // A question, anonymous to other students.
      await ana.widget.getByRole('tab', { name: 'Q&A' }).click();
      await ana.widget.getByLabel('Your question').fill('Will <b>recursion</b> be on the exam?');
      await ana.widget.getByLabel('Anonymous to other students').check();
      await ana.widget.getByRole('button', { name: 'Ask' }).click();
      await teacher.widget.getByRole('tab', { name: /Q&A/ }).click();
      const onTeacher = teacher.widget.locator('[data-question-id]').filter({ hasText: 'Will <b>recursion</b> be on the exam?' });
      await onTeacher.waitFor();
      assert.match((await onTeacher.textContent()) ?? '', /Ana \(anonymous to students\)/);
      await ben.widget.getByRole('tab', { name: 'Q&A' }).click();
      const onBen = ben.widget.locator('[data-question-id]').filter({ hasText: 'recursion' });
      await onBen.waitFor();
      assert.doesNotMatch((await onBen.textContent()) ?? '', /Ana/);
      assert.match((await onBen.textContent()) ?? '', /Anonymous/);
      await onBen.getByRole('button', { name: /Upvote/ }).click();
      await onTeacher.locator('[data-votes]', { hasText: '1' }).waitFor();
      await onTeacher.getByRole('button', { name: 'Mark answered' }).click();
      await ana.widget.locator('[data-question-id][data-state="answered"]').filter({ hasText: 'recursion' }).getByText('Answered').waitFor();

      // A poll: the instructor sees votes arrive, closes and shares; both students see the result.
      await teacher.widget.getByRole('tab', { name: 'Polls' }).click();
      await teacher.widget.getByLabel('Question').fill('Pace of the class?');
      await teacher.widget.getByLabel('Option 1', { exact: true }).fill('Too fast');
      await teacher.widget.getByLabel('Option 2', { exact: true }).fill('Just right');
      await teacher.widget.getByRole('button', { name: 'Start poll' }).click();
      for (const [student, choice] of [[ana, 'Just right'], [ben, 'Too fast']] as const) {
        await student.widget.getByRole('tab', { name: /Polls/ }).click();
        await student.widget.getByLabel(choice).check();
        await student.widget.getByRole('button', { name: 'Vote' }).click();
        await student.widget.getByText(`You voted: ${choice}`).waitFor();
      }
      await teacher.widget.locator('[data-total="2"]').waitFor();
      await teacher.widget.getByRole('button', { name: 'Close poll' }).click();
      await teacher.widget.getByRole('button', { name: 'Share results' }).click();
      for (const student of [ana, ben]) {
        await student.widget.locator('[data-poll-id] [data-total="2"]').waitFor();
        assert.equal(await student.widget.locator('[data-option="0"]').getAttribute('data-count'), '1');
        assert.equal(await student.widget.locator('[data-option="1"]').getAttribute('data-count'), '1');
      }

      // Chat: typed and sent with Enter; markup arrives as text, with the author and role badge.
      await ben.widget.getByRole('tab', { name: 'Chat' }).click();
      await ben.widget.getByRole('textbox', { name: 'Message' }).fill('<img src=x onerror="document.title=\'pwned\'"> hi all');
      await ben.widget.getByRole('textbox', { name: 'Message' }).press('Enter');
      await teacher.widget.getByRole('tab', { name: /Chat/ }).click();
      const line = teacher.widget.locator('[data-message-id]').filter({ hasText: 'hi all' });
      await line.waitFor();
      assert.match((await line.textContent()) ?? '', /Ben[\s\S]*<img src=x onerror=/);
      assert.equal(await teacher.widget.locator('[data-chat-log] img').count(), 0, 'no element was injected');
      await teacher.widget.getByRole('textbox', { name: 'Message' }).fill('Good question, everyone');
      await teacher.widget.getByRole('button', { name: 'Send' }).click();
      await ana.widget.getByRole('tab', { name: /Chat/ }).click();
      await ana.widget.locator('[data-message-id]').filter({ hasText: 'Good question, everyone' }).getByText('Host').waitFor();

      // A raised hand, brought on stage by the instructor.
      await ben.widget.getByRole('tab', { name: 'Hands' }).click();
      await ben.widget.getByRole('button', { name: /Raise hand/ }).click();
      await ben.widget.getByText('Your hand is raised: number 1 in line.').waitFor();
      await teacher.widget.getByRole('tab', { name: /Hands/ }).click();
      await teacher.widget.getByRole('button', { name: 'Bring Ben on stage' }).click();
      await ben.widget.locator('[data-grant="speaker"]').waitFor();
      await teacher.widget.locator('[data-speaker]').filter({ hasText: 'Ben' }).waitFor();

    } finally {
      for (const p of [teacher, ana, ben]) if (!p.page.isClosed()) await p.page.close();
    }
  });
});

// Deep Linking: an instructor places a live class from the LMS's tool picker; the platform gets an
// LtiResourceLink whose custom parameters set up the room on its first launch.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Service } from '../../server/service.ts';
import { startClassroom, type Classroom } from '../helpers/classroom.ts';
import type { Platform } from '../helpers/platform/index.ts';
import { parseForms } from '../helpers/platform/user-agent.ts';

for (const flavor of ['moodle', 'canvas'] as const) {
  describe(`deep linking from ${flavor}`, () => {
    let classroom: Classroom;
    let service: Service;
    let platform: Platform;
    before(async () => {
      classroom = await startClassroom(flavor);
      ({ service, platform } = classroom);
    });
    after(() => classroom?.close());

    const openPicker = async (roles: 'instructor' | 'learner' = 'instructor') => {
      const result = await platform.launch({ roles, messageType: 'LtiDeepLinkingRequest', user: { id: `dl-${roles}` } });
      assert.equal(result.stage, 'launched');
      if (result.stage !== 'launched') throw new Error('not launched');
      return result;
    };

    it('shows an instructor the form, and returns a signed LtiResourceLink that sets up the room', async () => {
      const picker = await openPicker();
      assert.equal(picker.response.status, 200, picker.response.body);
      assert.match(picker.response.body, /<h1>Add a live class<\/h1>/);
      for (const name of ['title', 'starts_at', 'duration', 'policy', 'threshold', 'ltik']) assert.match(picker.response.body, new RegExp(`name="${name}"`));

      const returned = await picker.userAgent.submitForm(picker.response, 0, {
        title: 'Week 3 <live> review',
        starts_at: '2026-12-01T09:00',
        starts_at_iso: '2026-12-01T08:00:00.000Z',
        duration: '90',
        policy: 'paid',
        threshold: '80',
      });
      assert.equal(returned.status, 200, returned.body);
      assert.match(returned.body, /Adding "Week 3 &lt;live&gt; review" to the course/);
      const [form] = parseForms(returned.body, returned.url);
      assert.ok(form?.fields.JWT, 'the return page carries the signed response');

      const landed = await picker.userAgent.submitForm(returned);
      assert.equal(landed.status, 200, landed.body);
      const [response] = platform.deepLinkResponses().slice(-1);
      assert.ok(response?.ok, response?.error ?? 'no deep linking response');
      assert.equal(response.contentItems.length, 1);
      const item = response.contentItems[0]!;
      assert.equal(item.type, 'ltiResourceLink');
      assert.equal(item.title, 'Week 3 <live> review');
      assert.equal(item.url, `${service.settings.publicUrl}/lti/launch`);
      const custom = item.custom as Record<string, string>;
      assert.deepEqual(custom, {
        live_classroom_policy: 'paid',
        live_classroom_duration_minutes: '90',
        live_classroom_starts_at: '2026-12-01T08:00:00.000Z',
        live_classroom_paid_threshold: '0.8',
      });

      // The LMS launches the placed link with those custom parameters: the room takes them.
      const launch = await platform.launch({ roles: 'instructor', user: { id: 'dl-teacher' }, resourceLink: { id: `placed-${flavor}`, title: 'Week 3 <live> review' }, custom });
      assert.equal(launch.stage, 'launched');
      if (launch.stage !== 'launched') return;
      assert.equal(launch.response.status, 200, launch.response.body);
      const seat = service.seats.verify(/seat-token="([^"]+)"/.exec(launch.response.body)![1]!);
      const room = await service.repositories.rooms.get(seat.roomId);
      assert.equal(room?.policy, 'paid');
      assert.equal(room?.paidThreshold, 0.8);
      assert.equal(room?.durationMinutes, 90);
      assert.equal(room?.scheduledStart?.toISOString(), '2026-12-01T08:00:00.000Z');
      assert.equal(room?.title, 'Week 3 <live> review');

      // The gate is on: a learner without a "Course fee paid" score is refused, and told why.
      const student = await platform.launch({ roles: 'learner', user: { id: 'dl-student' }, resourceLink: { id: `placed-${flavor}`, title: 'Week 3 <live> review' }, custom });
      assert.equal(student.stage, 'launched');
      if (student.stage !== 'launched') return;
      assert.equal(student.response.status, 403);
      assert.match(student.response.body, /course fee not paid/);
    });

    it('keeps what the instructor typed and says what to fix when the form is wrong', async () => {
      const picker = await openPicker();
      const again = await picker.userAgent.submitForm(picker.response, 0, { title: 'Lab', duration: '2', policy: 'enrolled', threshold: '' });
      assert.equal(again.status, 422);
      assert.match(again.body, /role="alert"[^>]*>A class lasts at least 5 minutes\./);
      assert.match(again.body, /name="title" required maxlength="200" value="Lab"/);
      const bad = await picker.userAgent.submitForm(picker.response, 0, { title: '   ', duration: '60', policy: 'free' });
      assert.equal(bad.status, 422);
      assert.match(bad.body, /Give the class a title\./);
      assert.equal(platform.deepLinkResponses().filter((r) => r.ok).length, 1, 'nothing was returned to the LMS');
    });

    it('places an enrolled class without a start time', async () => {
      const picker = await openPicker();
      const returned = await picker.userAgent.submitForm(picker.response, 0, { title: 'Office hours', starts_at: '', starts_at_iso: '', duration: '30', policy: 'enrolled', threshold: '' });
      assert.equal(returned.status, 200, returned.body);
      await picker.userAgent.submitForm(returned);
      const item = platform.deepLinkResponses().at(-1)!.contentItems[0]!;
      assert.deepEqual(item.custom, { live_classroom_policy: 'enrolled', live_classroom_duration_minutes: '30' });
    });

    it('turns attendance to the gradebook on for the room when the box is ticked', async () => {
      const picker = await openPicker();
      assert.match(picker.response.body, /<input type="checkbox" name="attendance" value="on"/);
      const returned = await picker.userAgent.submitForm(picker.response, 0, { title: 'Seminar', duration: '45', policy: 'enrolled', threshold: '', attendance: 'on' });
      await picker.userAgent.submitForm(returned);
      const item = platform.deepLinkResponses().at(-1)!.contentItems[0]!;
      const custom = item.custom as Record<string, string>;
      assert.equal(custom.live_classroom_attendance, 'true');
      const launch = await platform.launch({ roles: 'instructor', user: { id: 'att-teacher' }, resourceLink: { id: `seminar-${flavor}`, title: 'Seminar' }, custom });
      assert.equal(launch.stage, 'launched');
      if (launch.stage !== 'launched') return;
      const seat = service.seats.verify(/seat-token="([^"]+)"/.exec(launch.response.body)![1]!);
      assert.equal((await service.repositories.rooms.get(seat.roomId))?.attendanceEnabled, true);
    });

    it('refuses the picker to a learner, and a form posted without its launch', async () => {
      const picker = await openPicker('learner');
      assert.equal(picker.response.status, 403);
      assert.match(picker.response.body, /Only course staff can place a live class/);
      const forged = await fetch(`${service.url}/lti/deep-link`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ title: 'x', duration: '60', policy: 'enrolled', ltik: 'not-a-token' }),
      });
      assert.equal(forged.status, 401);
      assert.match(await forged.text(), /could not be verified|Open Live Classroom from your course/);
    });
  });
}

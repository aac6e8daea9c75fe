// Who gets into a room: roles, NRPS enrollment, the AGS course-fee gate, re-checks during class,
// the LMS being down, and the seat token, through real launches from the platform simulator and
// real socket.io connections.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { PAID_LINE_ITEM_TAG } from '../../server/access/index.ts';
import { NRPS_MAX_MEMBERS, NRPS_PAGE_SIZE } from '../../lti/index.ts';
import { alertText, connect, launchAs, request, startClassroom, type Classroom } from '../helpers/classroom.ts';
import { ROLES, type Flavor, type LaunchOptions } from '../helpers/platform/index.ts';
import { serverUrl } from '../helpers/postgres.ts';

const PAID = { live_classroom_policy: 'paid' };

const runs: Array<{ flavor: Flavor; database?: string }> = [{ flavor: 'moodle' }, { flavor: 'canvas' }, ...(serverUrl ? [{ flavor: 'moodle' as const, database: serverUrl }] : [])];

for (const { flavor, database } of runs) {
  describe(`access (${flavor}${database ? ', PostgreSQL' : ', PGlite'})`, () => {
    let c: Classroom;
    before(async () => {
      c = await startClassroom(flavor, { env: { ACCESS_RECHECK_SECONDS: '1' }, databaseUrl: database });
    });
    after(() => c?.close());

    /** A course and a room of its own for each test, so tests do not share LMS facts. */
    let n = 0;
    const place = (custom: Record<string, string> = {}) => {
      n++;
      const context = { id: `${flavor}-course-${n}`, title: `Course ${n}` };
      const resourceLink = { id: `${flavor}-room-${n}`, title: `Class ${n}` };
      const as = (user: string, roles: LaunchOptions['roles'] = 'learner') => launchAs(c.platform, { user: { id: `${user}-${n}`, name: user }, roles, context, resourceLink, custom });
      const feeItem = () => c.platform.lineItems(context.id).find((i) => i.tag === PAID_LINE_ITEM_TAG);
      return { context, resourceLink, as, feeItem, userId: (user: string) => `${user}-${n}` };
    };

    it('creates the "Course fee paid" line item once, at the instructor\'s launch, and admits only students with a full score', async () => {
      const room = place(PAID);
      const teacher = await room.as('teacher', 'instructor');
      assert.equal(teacher.status, 200, alertText(teacher.body));
      // Created in the background of the instructor's launch.
      for (let i = 0; i < 50 && !room.feeItem(); i++) await sleep(20);
      const item = room.feeItem();
      assert.ok(item, 'the fee line item exists after the instructor launched');
      assert.equal(item.label, 'Course fee paid');
      assert.equal(item.scoreMaximum, 1);

      c.platform.setResult(item.id, room.userId('paid'), 1);
      c.platform.setResult(item.id, room.userId('half'), 0.5);
      const paid = await room.as('paid');
      assert.equal(paid.status, 200, alertText(paid.body));
      const unpaid = await room.as('unpaid');
      assert.equal(unpaid.status, 403);
      assert.match(alertText(unpaid.body), /course fee not paid/);
      assert.match(alertText(unpaid.body), /Once your payment is recorded/);
      const half = await room.as('half');
      assert.equal(half.status, 403, 'half the fee is below the default threshold (full score)');

      // A second instructor launch and a second paid room in the course reuse the same line item.
      await room.as('teacher', 'instructor');
      assert.equal(c.platform.lineItems(room.context.id).filter((i) => i.tag === PAID_LINE_ITEM_TAG).length, 1);

      // The socket admits the paid student and refuses a seat of the unpaid one... who has none.
      assert.equal(unpaid.seat, undefined);
      const admitted = await connect(c.service, paid.seat);
      assert.equal(admitted.kind, 'welcome');
      if (admitted.kind === 'welcome') assert.equal(admitted.state.grant, 'attendee');
      admitted.socket.close();
    });

    it('applies the room\'s threshold, and lets a student in as soon as their payment is recorded', async () => {
      const room = place({ ...PAID, live_classroom_paid_threshold: '0.5' });
      await room.as('teacher', 'instructor');
      for (let i = 0; i < 50 && !room.feeItem(); i++) await sleep(20);
      const item = room.feeItem()!;
      c.platform.setResult(item.id, room.userId('half'), 0.5);
      c.platform.setResult(item.id, room.userId('little'), 0.2);
      assert.equal((await room.as('half')).status, 200);
      assert.equal((await room.as('little')).status, 403);
      // Pays the rest now: the refusal a moment ago is not cached against them.
      c.platform.setResult(item.id, room.userId('little'), 1);
      assert.equal((await room.as('little')).status, 200);
    });

    it('removes a student whose payment is withdrawn during the class, telling them why, within the re-check interval', async () => {
      const room = place(PAID);
      const teacher = await room.as('teacher', 'instructor');
      for (let i = 0; i < 50 && !room.feeItem(); i++) await sleep(20);
      const item = room.feeItem()!;
      c.platform.setResult(item.id, room.userId('student'), 1);
      const student = await room.as('student');
      const host = await connect(c.service, teacher.seat);
      const attendee = await connect(c.service, student.seat);
      assert.equal(host.kind, 'welcome');
      assert.equal(attendee.kind, 'welcome');
      const revoked = new Promise<{ reason: string; at: number }>((resolve) => attendee.socket.once('access:revoked', ({ reason }: { reason: string }) => resolve({ reason, at: Date.now() })));
      const disconnected = new Promise<void>((resolve) => attendee.socket.once('disconnect', () => resolve()));
      const withdrawnAt = Date.now();
      c.platform.setResult(item.id, room.userId('student'), undefined); // refunded
      const { reason, at } = await revoked;
      await disconnected;
      assert.equal(reason, 'course fee not paid');
      assert.ok(at - withdrawnAt < 5_000, `removed ${at - withdrawnAt} ms after the refund (re-check every 1 s)`);
      assert.ok(host.kind === 'welcome' && host.socket.connected, 'the host stays');

      // The refusal is stored, and the host can list it.
      const res = await fetch(`${c.service.url}/api/rooms/${c.service.seats.verify(teacher.seat!).roomId}/refusals`, { headers: { authorization: `Bearer ${teacher.seat}` } });
      assert.equal(res.status, 200);
      const { refusals } = (await res.json()) as { refusals: Array<{ name: string; reason: string; source: string }> };
      assert.ok(refusals.some((r) => r.name === 'student' && r.reason === 'course fee not paid' && r.source === 'ags'), JSON.stringify(refusals));
      host.kind === 'welcome' && host.socket.close();
    });

    it('keeps refusing an unverified student while the grade service is down, and admits one verified in the last 24 hours', async () => {
      const room = place(PAID);
      await room.as('teacher', 'instructor');
      for (let i = 0; i < 50 && !room.feeItem(); i++) await sleep(20);
      const item = room.feeItem()!;
      c.platform.setResult(item.id, room.userId('verified'), 1);
      assert.equal((await room.as('verified')).status, 200);
      c.platform.setResult(item.id, room.userId('unverified'), 1); // paid, but never checked before the outage
      c.platform.agsMode('down');
      try {
        c.service.access.forget();
        const unverified = await room.as('unverified');
        assert.equal(unverified.status, 403);
        assert.match(alertText(unverified.body), /payment could not be verified, try again in a few minutes/);
        const again = await room.as('unverified');
        assert.equal(again.status, 403, 'still refused on a second try while the LMS is down');
        const verified = await room.as('verified');
        assert.equal(verified.status, 200, alertText(verified.body));
        const admitted = await connect(c.service, verified.seat);
        assert.equal(admitted.kind, 'welcome');
        if (admitted.kind === 'welcome') assert.match(admitted.state.reason, /the LMS cannot be reached now/);
        admitted.socket.close();
      } finally {
        c.platform.agsMode('ok');
      }
      c.service.access.forget();
      assert.equal((await room.as('unverified')).status, 200, 'admitted once the LMS answers again');
    });

    it('uses the grace period only where the verified payment met the room\'s threshold, and survives re-checks of a room of hosts while the grade service is down', async () => {
      const half = place({ ...PAID, live_classroom_paid_threshold: '0.5' });
      const teacher = await half.as('teacher', 'instructor');
      for (let i = 0; i < 50 && !half.feeItem(); i++) await sleep(20);
      c.platform.setResult(half.feeItem()!.id, half.userId('student'), 0.5);
      assert.equal((await half.as('student')).status, 200);
      // Another room of the same course asks for the full fee.
      const full = { as: (user: string) => launchAs(c.platform, { user: { id: half.userId(user), name: user }, roles: 'learner', context: half.context, resourceLink: { id: `${half.resourceLink.id}-full` }, custom: PAID }) };
      assert.equal((await full.as('student')).status, 403);
      const host = await connect(c.service, teacher.seat);
      assert.equal(host.kind, 'welcome');
      c.platform.agsMode('down');
      try {
        c.service.access.forget();
        assert.equal((await half.as('student')).status, 200, 'verified at 0.5, the 0.5 room admits during the outage');
        const refused = await full.as('student');
        assert.equal(refused.status, 403, 'verified at 0.5, the full-fee room does not');
        assert.match(alertText(refused.body), /payment could not be verified/);
        // Re-checks run every second against a grade service that is down: the tool keeps serving.
        await sleep(2_500);
        assert.ok(host.kind === 'welcome' && host.socket.connected, 'the host is still connected');
        assert.equal((await fetch(`${c.service.url}/healthz`)).status, 200);
      } finally {
        c.platform.agsMode('ok');
        host.socket.close();
      }
    });

    it('refuses when the grade service answers a result that is not a number, saying payment could not be verified', async () => {
      const room = place(PAID);
      await room.as('teacher', 'instructor');
      for (let i = 0; i < 50 && !room.feeItem(); i++) await sleep(20);
      c.platform.setResult(room.feeItem()!.id, room.userId('student'), 1);
      c.platform.agsMode('garbage');
      try {
        const student = await room.as('student');
        assert.equal(student.status, 403);
        assert.match(alertText(student.body), /payment could not be verified/);
      } finally {
        c.platform.agsMode('ok');
      }
    });

    it('refuses inactive, deleted and unenrolled members by NRPS, and members the activity is restricted from', async () => {
      const room = place();
      const member = (user: string, status: 'Active' | 'Inactive' | 'Deleted', roles: string[] = [ROLES.learner]) => ({ userId: room.userId(user), roles, status, name: user });
      c.platform.setMembers(
        room.context.id,
        [member('teacher', 'Active', [ROLES.instructor]), member('active', 'Active'), member('inactive', 'Inactive'), member('deleted', 'Deleted'), member('grouped-out', 'Active')],
        { perResourceLink: { [room.resourceLink.id]: [room.userId('teacher'), room.userId('active'), room.userId('inactive'), room.userId('deleted')] } },
      );
      assert.equal((await room.as('teacher', 'instructor')).status, 200);
      assert.equal((await room.as('active')).status, 200);
      const expect = async (user: string, reason: RegExp) => {
        const res = await room.as(user);
        assert.equal(res.status, 403, `${user} must be refused`);
        assert.match(alertText(res.body), reason);
      };
      await expect('inactive', /enrollment inactive/);
      await expect('deleted', /removed from the course/);
      await expect('stranger', /not enrolled in this course/);
      await expect('grouped-out', /the LMS restricts this activity/);
    });

    it('removes a student whose enrollment becomes inactive during the class', async () => {
      const room = place();
      const teacher = await room.as('teacher', 'instructor');
      const student = await room.as('student');
      const attendee = await connect(c.service, student.seat);
      assert.equal(attendee.kind, 'welcome');
      const revoked = new Promise<string>((resolve) => attendee.socket.once('access:revoked', ({ reason }: { reason: string }) => resolve(reason)));
      c.platform.setMembers(room.context.id, [
        { userId: room.userId('teacher'), roles: [ROLES.instructor], status: 'Active' },
        { userId: room.userId('student'), roles: [ROLES.learner], status: 'Inactive' },
      ]);
      assert.equal(await revoked, 'enrollment inactive');
      assert.ok(teacher.seat);
    });

    it('decides an enrolled room from the launch while NRPS is down, and reads pages that loop or never end only so far', async () => {
      // Expected source of the student's decision, and the most membership requests the mode may cost.
      const modes = [
        { mode: 'down', source: 'fallback', most: 2 * 2 }, // got retries once; rlid then course list
        { mode: 'loop', source: 'nrps', most: 3 }, // the student is on the first page; the loop is noticed on the second
        { mode: 'huge', source: 'nrps', most: Math.ceil(NRPS_MAX_MEMBERS / NRPS_PAGE_SIZE) + 1 },
      ] as const;
      for (const { mode, source, most } of modes) {
        const room = place();
        await room.as('teacher', 'instructor');
        c.platform.nrpsMode(mode);
        const before = c.platform.nrpsRequests;
        try {
          c.service.access.forget();
          const student = await room.as('student');
          assert.equal(student.status, 200, `${mode}: ${alertText(student.body)}`);
          const seat = c.service.seats.verify(student.seat!);
          const [last] = await c.service.repositories.accessDecisions.listForUser(seat.roomId, seat.userId);
          assert.equal(last?.source, source, `${mode}: ${JSON.stringify(last)}`);
        } finally {
          c.platform.nrpsMode('ok');
        }
        const requests = c.platform.nrpsRequests - before;
        assert.ok(requests >= 1 && requests <= most, `${mode}: ${requests} membership requests (at most ${most})`);
      }
      // A student missing from a list that loops cannot be told apart from a page not read: the launch decides.
      const room = place();
      c.platform.setMembers(room.context.id, [{ userId: room.userId('teacher'), roles: [ROLES.instructor], status: 'Active' }]);
      await room.as('teacher', 'instructor');
      c.platform.nrpsMode('loop');
      try {
        c.service.access.forget();
        const student = await room.as('student');
        assert.equal(student.status, 200);
        const seat = c.service.seats.verify(student.seat!);
        const [last] = await c.service.repositories.accessDecisions.listForUser(seat.roomId, seat.userId);
        assert.equal(last?.source, 'fallback');
      } finally {
        c.platform.nrpsMode('ok');
      }
    });

    it('refuses a role it does not know, and a paid room never lets in an unverified student through a mentor role', async () => {
      const room = place();
      const mentor = await room.as('mentor', [ROLES.mentor]);
      assert.equal(mentor.status, 403);
      assert.match(alertText(mentor.body), /role not allowed in live classes \(Mentor\)/);
      const odd = await room.as('odd', ['http://example.edu/vocab#Auditor']);
      assert.equal(odd.status, 403);
    });

    it('refuses forged, tampered, expired and missing seat tokens on the socket', async () => {
      const room = place();
      const student = await room.as('student');
      const seat = student.seat!;
      const [payload, signature] = seat.split('.') as [string, string];
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
      const otherRoom = Buffer.from(JSON.stringify({ ...claims, roomId: '00000000-0000-4000-8000-000000000000' })).toString('base64url');
      const asHost = Buffer.from(JSON.stringify({ ...claims, role: 'host' })).toString('base64url');
      for (const [label, token, message] of [
        ['missing', undefined, /seat token is required/],
        ['garbage', 'not-a-token', /malformed seat token/],
        ['another room', `${otherRoom}.${signature}`, /signature is not valid/],
        ['promoted to host', `${asHost}.${signature}`, /signature is not valid/],
        ['forged signature', `${payload}.${Buffer.from('x'.repeat(32)).toString('base64url')}`, /signature is not valid/],
      ] as const) {
        const admission = await connect(c.service, token);
        assert.equal(admission.kind, 'error', label);
        if (admission.kind === 'error') assert.match(admission.message, message, label);
        admission.socket.close();
      }
      const expired = c.service.seats.issue({ userId: claims.userId as string, roomId: claims.roomId as string, role: 'attendee', name: 'x', locale: 'en' }, Date.now() - 3_600_000);
      const late = await connect(c.service, expired);
      assert.equal(late.kind, 'error');
      if (late.kind === 'error') assert.match(late.message, /expired/);
      late.socket.close();
    });

    it('lets a host bring an attendee on stage and take them off, and refuses the same from a student or with a malformed message', async () => {
      const room = place();
      const teacher = await room.as('teacher', 'instructor');
      const student = await room.as('student');
      const other = await room.as('other');
      const host = await connect(c.service, teacher.seat);
      const attendee = await connect(c.service, student.seat);
      const peer = await connect(c.service, other.seat);
      assert.ok(host.kind === 'welcome' && attendee.kind === 'welcome' && peer.kind === 'welcome');
      const studentId = c.service.seats.verify(student.seat!).userId;
      const changed = new Promise<{ grant: string }>((resolve) => attendee.socket.once('grant:changed', resolve));
      assert.deepEqual(await request(host.socket, 'stage:add', { userId: studentId }), { ok: true, grant: 'speaker' });
      assert.equal((await changed).grant, 'speaker');
      const refused = await request<{ ok: boolean; error: string }>(peer.socket, 'stage:add', { userId: c.service.seats.verify(other.seat!).userId });
      assert.deepEqual(refused, { ok: false, error: 'only a host can do this' });
      assert.match((await request<{ error: string }>(host.socket, 'stage:add', { userId: 42 })).error, /invalid stage:add: userId/);
      assert.match((await request<{ error: string }>(host.socket, 'stage:add', 'x'.repeat(100))).error, /invalid stage:add/);
      assert.match((await request<{ error: string }>(host.socket, 'room:explode', {})).error, /unknown event "room:explode"/);
      // The wire allows numbers as event names; the server must answer, not trip over them.
      assert.match((await request<{ error: string }>(host.socket, 7 as unknown as string, {})).error, /unknown event "7"/);
      assert.deepEqual(await request(host.socket, 'stage:remove', { userId: studentId }), { ok: true, grant: 'attendee' });
      // Seat tokens live minutes: a connected participant gets a fresh one for reconnecting later.
      const fresh = await request<{ ok: boolean; seat: string }>(attendee.socket, 'seat:refresh', {});
      assert.equal(fresh.ok, true);
      const renewed = c.service.seats.verify(fresh.seat);
      assert.equal(renewed.userId, studentId);
      assert.equal(renewed.role, 'attendee');
      const again = await connect(c.service, fresh.seat);
      assert.equal(again.kind, 'welcome');
      again.socket.close();
      for (const s of [host, attendee, peer]) s.socket.close();
    });

    it('lets a host turn the paid gate on in the room settings, and lets the course\'s hosts list refusals per course', async () => {
      const room = place();
      const teacher = await room.as('teacher', 'instructor');
      const student = await room.as('student');
      assert.equal(student.status, 200);
      const roomId = c.service.seats.verify(teacher.seat!).roomId;
      const patch = (seat: string, body: unknown) =>
        fetch(`${c.service.url}/api/rooms/${roomId}/settings`, { method: 'PATCH', headers: { authorization: `Bearer ${seat}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal((await patch(student.seat!, { policy: 'paid' })).status, 403, 'a student cannot change settings');
      const bad = await patch(teacher.seat!, { policy: 'free' });
      assert.equal(bad.status, 400);
      assert.match(((await bad.json()) as { error: string }).error, /policy/);
      const ok = await patch(teacher.seat!, { policy: 'paid', paidThreshold: 1 });
      assert.equal(ok.status, 200);
      const settings = (await ok.json()) as { policy: string; feeLineItem: string | null };
      assert.equal(settings.policy, 'paid');
      assert.ok(settings.feeLineItem && settings.feeLineItem === room.feeItem()?.id, 'the fee line item was created at once');
      const refused = await room.as('student');
      assert.equal(refused.status, 403);
      const courseId = (await c.service.repositories.rooms.get(roomId))!.courseId;
      const list = await fetch(`${c.service.url}/api/courses/${courseId}/refusals`, { headers: { authorization: `Bearer ${teacher.seat}` } });
      assert.equal(list.status, 200);
      const { refusals } = (await list.json()) as { refusals: Array<{ reason: string; roomTitle: string }> };
      assert.ok(refusals.some((r) => r.reason === 'course fee not paid' && r.roomTitle === room.resourceLink.title), JSON.stringify(refusals));
      const asStudent = await fetch(`${c.service.url}/api/courses/${courseId}/refusals`, { headers: { authorization: `Bearer ${student.seat}` } });
      assert.equal(asStudent.status, 403);
      const forged = await fetch(`${c.service.url}/api/courses/${courseId}/refusals`, { headers: { authorization: 'Bearer abc.def' } });
      assert.equal(forged.status, 401);
    });
  });
}

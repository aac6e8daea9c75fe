// Attendance back to the LMS: a class goes live, students come and go, the host ends it, and each
// student's minutes present arrive at the platform's AGS endpoint as a score.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eq, sql } from 'drizzle-orm';
import { ATTENDANCE_TAG } from '../../server/rooms/index.ts';
import { attendance, classSessions } from '../../server/db/schema.ts';
import { connect, launchAs, request, startClassroom, type Admission, type Classroom } from '../helpers/classroom.ts';
import { until } from '../helpers/wait.ts';

function welcomed(a: Admission): Extract<Admission, { kind: 'welcome' }> {
  assert.equal(a.kind, 'welcome', JSON.stringify(a.kind === 'welcome' ? {} : a.kind === 'revoked' ? a.reason : a.message));
  return a as Extract<Admission, { kind: 'welcome' }>;
}

describe('attendance to the LMS', () => {
  let c: Classroom;
  before(async () => {
    c = await startClassroom('moodle');
  });
  after(() => c?.close());

  let n = 0;
  const place = (custom: Record<string, string>) => {
    n++;
    const context = { id: `att-course-${n}`, title: `Course ${n}` };
    const resourceLink = { id: `att-room-${n}`, title: `Lecture ${n}` };
    return {
      context,
      resourceLink,
      as: (user: string, roles: 'instructor' | 'learner' = 'learner') => launchAs(c.platform, { user: { id: `${user}-${n}`, name: user }, roles, context, resourceLink, custom }),
      subject: (user: string) => `${user}-${n}`,
    };
  };

  it('sends each student\'s minutes present to an "Attendance" line item of the room when the class ends', async () => {
    const room = place({ live_classroom_attendance: 'true', live_classroom_duration_minutes: '50' });
    const teacher = await room.as('teacher', 'instructor');
    const ana = await room.as('ana');
    const ben = await room.as('ben');
    const host = welcomed(await connect(c.service, teacher.seat));
    assert.equal(host.state.status, 'scheduled');
    const a = welcomed(await connect(c.service, ana.seat));
    // A double click on "Go live" (or two hosts at once) starts one class.
    const starts = await Promise.all([request(host.socket, 'class:start', {}), request(host.socket, 'class:start', {})]);
    assert.deepEqual(starts, [{ ok: true, status: 'live' }, { ok: true, status: 'live' }]);
    const sessions = await c.service.database!.orm.select().from(classSessions).where(eq(classSessions.roomId, c.service.seats.verify(teacher.seat!).roomId));
    assert.equal(sessions.length, 1);
    const b = welcomed(await connect(c.service, ben.seat));
    assert.equal(b.state.status, 'live');
    b.socket.close();
    const benId = c.service.seats.verify(ben.seat!).userId;
    await until('Ben\'s departure recorded', async () => {
      const rows = await c.service.database!.orm.select().from(attendance).where(eq(attendance.userId, benId));
      return rows.length === 1 && rows[0]!.leftAt !== null;
    });

    // Move the class 50 minutes into the past: Ana was there from the start, Ben for 20 minutes of it.
    const roomId = c.service.seats.verify(teacher.seat!).roomId;
    const orm = c.service.database!.orm;
    const session = (await c.service.repositories.classes.current(roomId))!;
    const start = new Date(Date.now() - 50 * 60_000);
    await orm.update(classSessions).set({ startedAt: start }).where(eq(classSessions.id, session.id));
    await orm.update(attendance).set({ joinedAt: start }).where(eq(attendance.sessionId, session.id));
    await orm
      .update(attendance)
      .set({ leftAt: sql`${start.toISOString()}::timestamptz + interval '20 minutes'` })
      .where(sql`${attendance.sessionId} = ${session.id} and ${attendance.userId} = ${benId}`);

    const ended = new Promise<{ status: string }>((resolve) => a.socket.once('class:status', resolve));
    const ack = await request<{ ok: boolean; attendanceSent: number }>(host.socket, 'class:end', {});
    assert.deepEqual(ack, { ok: true, status: 'ended', attendanceSent: 2 });
    assert.equal((await ended).status, 'ended');

    const item = c.platform.lineItems(room.context.id).find((i) => i.tag === ATTENDANCE_TAG);
    assert.ok(item, 'the Attendance line item was created');
    assert.equal(item.label, `Attendance: ${room.resourceLink.title}`);
    assert.equal(item.resourceLinkId, room.resourceLink.id);
    assert.equal(item.scoreMaximum, 50);
    const scores = new Map(c.platform.scores(item.id).map((s) => [s.userId, s]));
    assert.equal(scores.size, 2, 'the instructor gets no attendance score');
    const anaScore = scores.get(room.subject('ana'))!;
    const benScore = scores.get(room.subject('ben'))!;
    assert.ok(Math.abs(anaScore.scoreMaximum! - 50) <= 0.2, `class length ${anaScore.scoreMaximum}`);
    assert.equal(anaScore.scoreGiven, anaScore.scoreMaximum, 'Ana was there the whole class');
    assert.equal(benScore.scoreGiven, 20);
    assert.equal(benScore.activityProgress, 'Completed');
    assert.equal(benScore.gradingProgress, 'FullyGraded');
    assert.match(benScore.comment ?? '', /^Present 20 of 50(\.\d)? minutes/);
    const stored = await c.service.repositories.classes.get(session.id);
    assert.ok(stored?.attendanceSentAt, 'the session records that attendance was sent');
    host.socket.close();
    a.socket.close();
  });

  it('sends nothing for a room without attendance, and reports an unreachable grade service to the host without failing the end of class', async () => {
    const quiet = place({});
    const teacher = await quiet.as('teacher', 'instructor');
    await quiet.as('ana');
    const host = welcomed(await connect(c.service, teacher.seat));
    await request(host.socket, 'class:start', {});
    assert.deepEqual(await request(host.socket, 'class:end', {}), { ok: true, status: 'ended', attendanceSent: 0 });
    assert.equal(c.platform.lineItems(quiet.context.id).length, 0);
    host.socket.close();

    const room = place({ live_classroom_attendance: 'true' });
    const t2 = await room.as('teacher', 'instructor');
    const s2 = await room.as('ana');
    const h2 = welcomed(await connect(c.service, t2.seat));
    const a2 = welcomed(await connect(c.service, s2.seat));
    await request(h2.socket, 'class:start', {});
    c.platform.agsMode('down');
    try {
      const ack = await request<{ ok: boolean; status: string; attendanceSent: number; attendanceProblem?: string }>(h2.socket, 'class:end', {});
      assert.equal(ack.ok, true);
      assert.equal(ack.status, 'ended');
      assert.equal(ack.attendanceSent, 0);
      assert.match(ack.attendanceProblem ?? '', /LMS answered 503/);
    } finally {
      c.platform.agsMode('ok');
    }
    const roomId = c.service.seats.verify(t2.seat!).roomId;
    assert.equal((await c.service.repositories.rooms.get(roomId))?.status, 'ended');
    h2.socket.close();
    a2.socket.close();
  });

  it('refuses class:start and class:end from a student', async () => {
    const room = place({});
    await room.as('teacher', 'instructor');
    const student = welcomed(await connect(c.service, (await room.as('ana')).seat));
    assert.deepEqual(await request(student.socket, 'class:start', {}), { ok: false, error: 'only a host can do this' });
    assert.deepEqual(await request(student.socket, 'class:end', {}), { ok: false, error: 'only a host can do this' });
    assert.match((await request<{ error: string }>(student.socket, 'class:start', { extra: 1 })).error, /invalid class:start/);
    student.socket.close();
  });
});

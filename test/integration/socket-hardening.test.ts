// The live connection against odd input: a host naming someone who is not in the class, events sent
// with extra arguments or none, and seats for a room or an account that no longer exists. Each gets a
// clear answer, and none is logged as an error.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sql } from 'drizzle-orm';
import { io } from 'socket.io-client';
import { connect, launchAs, request, startClassroom, type Classroom } from '../helpers/classroom.ts';
import { captureLogs, LEVEL, type CapturedLogs } from '../helpers/logs.ts';

describe('the live connection against odd input', () => {
  let c: Classroom;
  let logs: CapturedLogs;
  let course = 0;
  before(async () => {
    logs = captureLogs('info');
    // Every admission reads the LMS afresh (ACCESS_CACHE_SECONDS=0): a slow LMS makes it last.
    c = await startClassroom('moodle', { logger: logs.logger, env: { LOG_LEVEL: 'info', ACCESS_CACHE_SECONDS: '0' } });
  });
  after(() => c?.close());

  /** A fresh course and room; `as` launches someone into it. */
  const place = () => {
    course++;
    const context = { id: `odd-course-${course}`, title: `Odd course ${course}` };
    const resourceLink = { id: `odd-room-${course}`, title: 'Odd room' };
    return {
      as: (id: string, roles: 'learner' | 'instructor' = 'learner') => launchAs(c.platform, { roles, user: { id: `${id}-${course}`, name: id }, context, resourceLink }),
    };
  };

  it('tells a host that someone who is not in the class cannot be brought on stage or taken off it', async () => {
    const room = place();
    const teacher = await room.as('teacher', 'instructor');
    const absent = await room.as('absent'); // a member of the course, not connected
    const host = await connect(c.service, teacher.seat);
    assert.equal(host.kind, 'welcome');
    const absentId = c.service.seats.verify(absent.seat!).userId;
    for (const [event, userId] of [
      ['stage:add', randomUUID()],
      ['stage:add', absentId],
      ['stage:remove', randomUUID()],
      ['stage:remove', absentId],
      ['hand:bring', randomUUID()],
    ] as const) {
      const answer: { ok: boolean; error: string } = await request(host.socket, event, { userId });
      assert.equal(answer.ok, false, `${event} ${userId}`);
      assert.match(answer.error, event === 'hand:bring' ? /hand is not raised/ : /^this person is not in the class$/, `${event} ${userId}`);
    }
    host.socket.close();
    assert.deepEqual(logs.atLeast(LEVEL.error), []);
  });

  it('answers every event once, whatever arguments it arrives with', async () => {
    const room = place();
    const teacher = await room.as('teacher', 'instructor');
    const student = await room.as('student');
    const host = await connect(c.service, teacher.seat);
    const attendee = await connect(c.service, student.seat);
    assert.ok(host.kind === 'welcome' && attendee.kind === 'welcome');
    for (const socket of [host.socket, attendee.socket]) {
      for (const event of ['chat:send', 'stage:add', 'class:start', 'media:subscribe', 'recordings:list', 'poll:vote', 'nonsense:event']) {
        // An extra argument before the acknowledgement: answered, not taken for the acknowledgement.
        const extra = (await socket.timeout(5_000).emitWithAck(event, { body: 'hello' }, 'extra')) as { ok: boolean; error: string };
        assert.equal(extra.ok, false, event);
        assert.match(extra.error, event === 'nonsense:event' ? /unknown event/ : /send one payload object \(got 2 arguments\)/, event);
        // Three extras, a function among them.
        const many = (await socket.timeout(5_000).emitWithAck(event, 1, () => {}, [2])) as { ok: boolean };
        assert.equal(many.ok, false, event);
        // No payload at all: an event that needs none is served, any other refused by name.
        const none = (await socket.timeout(5_000).emitWithAck(event)) as { ok: boolean; error?: string };
        if (!none.ok) assert.match(String(none.error), /invalid|unknown event|only a host|has not started/, event);
        // A payload that is not an object.
        for (const payload of [null, 7, 'text', [1, 2], true]) {
          const odd = (await socket.timeout(5_000).emitWithAck(event, payload)) as { ok: boolean; error?: string };
          if (payload !== null) assert.equal(odd.ok, false, `${event} ${JSON.stringify(payload)}`);
        }
      }
    }
    host.socket.close();
    attendee.socket.close();
    assert.deepEqual(logs.atLeast(LEVEL.error), []);
  });

  it('answers events sent before the socket is admitted', async () => {
    const room = place();
    const student = await room.as('early');
    // The admission reads the LMS's membership list afresh, and the LMS takes a second to answer.
    c.platform.nrpsMode('slow');
    for (let i = 0; i < 2; i++) {
      const socket = io(c.service.url, { auth: { seat: student.seat }, transports: ['websocket'], reconnection: false, forceNew: true });
      try {
        // Sent the moment the connection opens, while the server is still checking the seat.
        const answer = await new Promise<{ ok: boolean; error?: string }>((resolve, reject) => {
          socket.once('connect', () => socket.timeout(5_000).emit('chat:send', { body: 'first!' }, (error: Error | null, ack: { ok: boolean; error?: string }) => (error ? reject(error) : resolve(ack))));
        });
        assert.deepEqual(answer, { ok: false, error: 'you are still joining the class; try again in a moment' });
      } finally {
        socket.close();
      }
    }
    c.platform.nrpsMode('ok');
  });

  it('refuses text with control characters in what it stores, by name', async () => {
    const room = place();
    const teacher = await room.as('teacher', 'instructor');
    const host = await connect(c.service, teacher.seat);
    assert.equal(host.kind, 'welcome');
    for (const [event, payload] of [
      ['chat:send', { body: 'a\u0000b' }],
      ['question:ask', { body: 'why\u0007?' }],
      ['poll:create', { question: 'q\u0000', options: ['a', 'b'] }],
      ['recording:rename', { id: randomUUID(), title: 't\u0000' }],
    ] as const) {
      const answer: { ok: boolean; error: string } = await request(host.socket, event, payload);
      assert.equal(answer.ok, false, event);
      assert.match(answer.error, /holds a control character/, event);
    }
    // A line break in a chat message is text, not a control character.
    assert.equal((await request<{ ok: boolean }>(host.socket, 'chat:send', { body: 'two\nlines' })).ok, true);
    host.socket.close();
    assert.deepEqual(logs.atLeast(LEVEL.error), []);
  });

  it('says so when a seat names a class that was removed, or an account that no longer exists', async () => {
    const room = place();
    const student = await room.as('student');
    const seat = c.service.seats.verify(student.seat!);
    const other = place();
    const gone = await other.as('gone');
    const goneSeat = c.service.seats.verify(gone.seat!);
    const before = logs.lines.length;
    // The account goes (as an administrator's clean-up would), then the room with its course.
    await c.service.database!.rows(sql`delete from users where id = ${goneSeat.userId}`);
    const noAccount = await connect(c.service, gone.seat);
    assert.equal(noAccount.kind, 'revoked');
    assert.match(noAccount.kind === 'revoked' ? noAccount.reason : '', /your account is no longer known to Live Classroom/);
    const roomRow = await c.service.repositories.rooms.get(seat.roomId);
    await c.service.repositories.courses.delete(roomRow!.courseId);
    // The same seat at the hosts' API and a recording link is a refusal, not a failure.
    const api = await fetch(`${c.service.url}/api/rooms/${goneSeat.roomId}/settings`, { headers: { authorization: `Bearer ${gone.seat}` } });
    assert.equal(api.status, 403);
    const noRoom = await connect(c.service, student.seat);
    assert.equal(noRoom.kind, 'revoked');
    assert.match(noRoom.kind === 'revoked' ? noRoom.reason : '', /this live class was removed from the course/);
    const logged = logs.lines.slice(before);
    assert.ok(logged.some((l) => /a seat for a room that no longer exists/.test(String(l.msg)) && l.level === LEVEL.info));
    assert.ok(logged.some((l) => /refused a user who no longer exists/.test(String(l.msg)) && l.level === LEVEL.info));
    assert.deepEqual(logs.atLeast(LEVEL.error), []);
  });
});

// Recording to VOD around the record button, with real FFmpeg, a real database and real sockets:
// a room set to record automatically records from "Go live" on (set through the host API, changed
// from the widget's checkbox, refused to students); hosts rename and delete the course's
// recordings over the socket (students cannot; a delete takes the files too) and everyone's list
// follows; the retention sweep removes what is older than RECORDING_RETENTION_DAYS and nothing
// else, never a recording that is running.
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { eq } from 'drizzle-orm';
import type { Socket } from 'socket.io-client';
import { measure } from '../../recordings/index.ts';
import { recordings } from '../../server/db/schema.ts';
import { request, startClassroom, type Classroom } from '../helpers/classroom.ts';
import { keptAndPlayable, recordingFolder } from '../helpers/recording.ts';
import { join as joinRoom } from '../helpers/interaction.ts';
import { until } from '../helpers/wait.ts';

type Ack = { ok: boolean; error?: string; [key: string]: unknown };
interface Listed {
  id: string;
  title: string;
  status: string;
}
const DAY = 86_400_000;

describe('automatic recording, the library over the socket, and retention', () => {
  let c: Classroom;
  const sockets: Socket[] = [];
  before(async () => {
    c = await startClassroom('moodle', { env: { RECORDING_RETENTION_DAYS: '30' } });
    await c.service.recordings.init();
    assert.equal(c.service.recordings.unavailable, undefined, 'FFmpeg is installed on this machine');
  });
  after(async () => {
    for (const socket of sockets) socket.close();
    await c?.close();
  });

  /** Launches into a room of a course and opens the widget's socket. */
  const join = async (room: string, user: string, roles: 'instructor' | 'learner', course = 'lib-course') => {
    const participant = await joinRoom(c.platform, c.service, room, user, roles, { context: { id: course, title: course }, resourceLink: { id: room, title: room } });
    sockets.push(participant.socket);
    return participant;
  };
  const ask = (socket: Socket, event: string, payload: unknown = {}) => request<Ack>(socket, event, payload, 30_000);
  const list = async (socket: Socket) => ((await ask(socket, 'recordings:list')).recordings ?? []) as Listed[];
  /** Counts an event on a socket, and keeps the last payload. */
  const follow = <T>(socket: Socket, event: string) => {
    const seen = { count: 0, last: undefined as T | undefined };
    socket.on(event, (payload: T) => {
      seen.count++;
      seen.last = payload;
    });
    return seen;
  };
  /** Records a few seconds with the Record button: a ready recording with at least one segment. */
  const recordOnce = async (host: Socket) => {
    const started = await ask(host, 'recording:start');
    assert.ok(started.ok, started.error ?? '');
    const id = String(started.recordingId);
    const dir = await recordingFolder(c.service, id);
    await until('a first segment', async () => (await measure(dir)).segments >= 1);
    assert.ok((await ask(host, 'recording:stop')).ok);
    assert.equal((await c.service.recordings.get(id))?.status, 'ready');
    return { id, dir };
  };
  const exists = (path: string) => access(path).then(() => true, () => false);

  it('records from "Go live" on when the room is set to, tells everyone, and ending the class leaves a ready recording', async () => {
    const host = await join('auto-room', 'auto-teacher', 'instructor');
    const student = await join('auto-room', 'auto-student', 'learner');
    assert.equal((await ask(host.socket, 'recordings:list')).autoRecord, false, 'off by default');
    // The instructor turns it on through the settings API.
    const settingsUrl = `${c.service.url}/api/rooms/${host.roomId}/settings`;
    const patch = await fetch(settingsUrl, { method: 'PATCH', headers: { authorization: `Bearer ${host.seat}`, 'content-type': 'application/json' }, body: JSON.stringify({ autoRecord: true }) });
    assert.equal(patch.status, 200);
    assert.equal(((await patch.json()) as { autoRecord: boolean }).autoRecord, true);
    assert.equal(((await (await fetch(settingsUrl, { headers: { authorization: `Bearer ${host.seat}` } })).json()) as { autoRecord: boolean }).autoRecord, true);
    const bad = await fetch(settingsUrl, { method: 'PATCH', headers: { authorization: `Bearer ${host.seat}`, 'content-type': 'application/json' }, body: JSON.stringify({ autoRecord: 'yes' }) });
    assert.equal(bad.status, 400);
    assert.equal((await ask(host.socket, 'recordings:list')).autoRecord, true, 'the widget sees it');

    const hostStates = follow<{ recording: boolean; recordingId?: string }>(host.socket, 'recording:state');
    const studentStates = follow<{ recording: boolean }>(student.socket, 'recording:state');
    const live = await ask(host.socket, 'class:start');
    assert.deepEqual(live, { ok: true, status: 'live' });
    await until('the host told the class is being recorded', () => hostStates.last?.recording === true);
    await until('the student told the class is being recorded', () => studentStates.last?.recording === true);
    const recordingId = hostStates.last!.recordingId!;
    assert.equal(c.service.recordings.state(host.roomId).recordingId, recordingId);
    const dir = await recordingFolder(c.service, recordingId);
    await until('a first segment', async () => (await measure(dir)).segments >= 1);

    // The host stops it; Go live pressed again (a second host, or a double click) does not restart it.
    assert.equal((await ask(host.socket, 'recording:stop')).ok, true);
    assert.deepEqual(await ask(host.socket, 'class:start'), { ok: true, status: 'live' });
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // a restart would be under way by now
    assert.equal(c.service.recordings.state(host.roomId).recording, false, 'not restarted by a second Go live');
    assert.equal((await c.service.repositories.recordings.listUnfinished()).filter((r) => r.roomId === host.roomId).length, 0, 'no new recording row');

    assert.equal((await ask(host.socket, 'class:end')).ok, true);
    const row = (await c.service.recordings.get(recordingId))!;
    assert.equal(row.status, 'ready');
    assert.ok((await keptAndPlayable(await recordingFolder(c.service, recordingId), row.durationMs)).segments >= 1, 'the class is recorded and plays');
    assert.equal(c.service.recordings.state(host.roomId).recording, false);
    await until('the student told it stopped', () => studentStates.last?.recording === false);
  });

  it('is changed from the widget by hosts only; a room not set to record goes live without recording', async () => {
    const host = await join('auto-off-room', 'off-teacher', 'instructor');
    const student = await join('auto-off-room', 'off-student', 'learner');
    const refused = await ask(student.socket, 'recording:auto', { autoRecord: true });
    assert.equal(refused.ok, false);
    assert.match(refused.error ?? '', /only a host/);
    const changed = follow(host.socket, 'recordings:changed');
    assert.deepEqual(await ask(host.socket, 'recording:auto', { autoRecord: true }), { ok: true, autoRecord: true });
    await until('the room told to list again (other hosts\' checkboxes follow)', () => changed.count >= 1);
    assert.equal((await ask(student.socket, 'recordings:list')).autoRecord, true);
    assert.deepEqual(await ask(host.socket, 'recording:auto', { autoRecord: false }), { ok: true, autoRecord: false });
    assert.equal((await c.service.repositories.rooms.get(host.roomId))?.autoRecord, false);
    // Off: going live starts nothing (a start would have been stopped, and listed, by the end).
    assert.equal((await ask(host.socket, 'class:start')).ok, true);
    assert.equal((await ask(host.socket, 'class:end')).ok, true);
    const course = (await c.service.repositories.rooms.get(host.roomId))!.courseId;
    const rows = await c.service.repositories.recordings.listForCourse(course);
    assert.equal(rows.filter((r) => r.roomId === host.roomId).length, 0);
  });

  it('lets a host rename and delete recordings (files and row), refuses students and other courses, and everyone\'s list follows', async () => {
    const host = await join('library-room', 'lib-teacher', 'instructor');
    const student = await join('library-room', 'lib-student', 'learner');
    const outsider = await join('other-room', 'other-teacher', 'instructor', 'other-course');
    assert.equal((await ask(host.socket, 'class:start')).ok, true);
    const { id, dir } = await recordOnce(host.socket);
    const changes = follow(student.socket, 'recordings:changed');

    const renamed = await ask(host.socket, 'recording:rename', { id, title: 'Week 1: Limits' });
    assert.deepEqual(renamed, { ok: true });
    await until('the student told the library changed', () => changes.count >= 1);
    assert.equal((await list(student.socket)).find((r) => r.id === id)?.title, 'Week 1: Limits');

    for (const [event, payload] of [['recording:rename', { id, title: 'Mine now' }], ['recording:delete', { id }]] as const) {
      const answer = await ask(student.socket, event, payload);
      assert.equal(answer.ok, false, event);
      assert.match(answer.error ?? '', /only a host/);
      const foreign = await ask(outsider.socket, event, payload);
      assert.equal(foreign.ok, false, `${event} from another course`);
      assert.match(foreign.error ?? '', /no such recording in this course/);
    }
    assert.equal((await c.service.recordings.get(id))?.title, 'Week 1: Limits', 'refusals changed nothing');
    assert.ok(await exists(dir));

    const before = changes.count;
    assert.deepEqual(await ask(host.socket, 'recording:delete', { id }), { ok: true });
    await until('the student told the library changed again', () => changes.count > before);
    assert.equal(await c.service.recordings.get(id), undefined, 'the row is gone');
    assert.equal(await exists(dir), false, 'the folder is gone');
    assert.equal((await list(student.socket)).some((r) => r.id === id), false);
    const gone = await ask(host.socket, 'recording:delete', { id });
    assert.equal(gone.ok, false);
    assert.match(gone.error ?? '', /no such recording/);
    assert.equal((await ask(host.socket, 'class:end')).ok, true);
  });

  it('removes recordings older than RECORDING_RETENTION_DAYS, keeps newer ones, and never a running one', async () => {
    const host = await join('retention-room', 'ret-teacher', 'instructor');
    assert.equal((await ask(host.socket, 'class:start')).ok, true);
    const old = await recordOnce(host.socket);
    const recent = await recordOnce(host.socket);
    const started = await ask(host.socket, 'recording:start');
    assert.ok(started.ok, started.error ?? '');
    const running = String(started.recordingId);
    const runningDir = await recordingFolder(c.service, running);
    // Retention is 30 days: one recording 31 days old, one 29, and the running one 40.
    const orm = c.service.database!.orm;
    const age = (id: string, days: number) => orm.update(recordings).set({ startedAt: new Date(Date.now() - days * DAY) }).where(eq(recordings.id, id));
    await age(old.id, 31);
    await age(recent.id, 29);
    await age(running, 40);

    assert.equal(await c.service.recordings.sweep(), 1);
    assert.equal(await c.service.recordings.get(old.id), undefined);
    assert.equal(await exists(old.dir), false);
    assert.equal((await c.service.recordings.get(recent.id))?.status, 'ready');
    assert.ok(await exists(recent.dir));
    assert.equal((await c.service.recordings.get(running))?.status, 'recording');
    assert.equal(c.service.recordings.state(host.roomId).recordingId, running, 'still recording');
    assert.ok(await exists(runningDir));
    assert.equal(await c.service.recordings.sweep(), 0, 'nothing more to remove');

    // Once it has finished, the 40-day-old recording goes at the next sweep.
    assert.equal((await ask(host.socket, 'class:end')).ok, true);
    assert.equal(await c.service.recordings.sweep(), 1);
    assert.equal(await c.service.recordings.get(running), undefined);
    assert.equal(await exists(runningDir), false);
  });
});

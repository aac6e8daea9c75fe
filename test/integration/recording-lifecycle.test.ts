// A recording has one way to end, and the recorder keeps track of every FFmpeg it started: the
// regressions of what the spread of that logic caused (a recording orphaned by a stop that was still
// flushing, a start racing the shutdown, a failure told to a class long after it ended).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { measure } from '../../recordings/index.ts';
import { alive } from '../../recordings/recorder.ts';
import { connect, launchAs, startClassroom, type Classroom } from '../helpers/classroom.ts';
import { recordingFolder } from '../helpers/recording.ts';
import { until } from '../helpers/wait.ts';

type Ack = { ok: boolean; error?: string; [key: string]: unknown };

describe('a recording\'s life', () => {
  let c: Classroom;
  before(async () => {
    c = await startClassroom('moodle');
    await c.service.recordings.init();
  });
  after(() => c?.close());

  /** A host in a live class of a room of its own. */
  const liveRoom = async (tag: string) => {
    const teacher = await launchAs(c.platform, { user: { id: `${tag}-teacher`, name: 'Teacher' }, roles: 'instructor', resourceLink: { id: `${tag}-room`, title: tag } });
    const socket = (await connect(c.service, teacher.seat!)).socket;
    assert.equal(((await socket.emitWithAck('class:start', {})) as Ack).ok, true);
    return { socket, roomId: c.service.seats.verify(teacher.seat!).roomId };
  };

  const ffmpegOf = async (recordingId: string): Promise<number> => {
    const owner = JSON.parse(await readFile(join(await recordingFolder(c.service, recordingId), 'recorder.json'), 'utf8')) as { ffmpegPid: number };
    return owner.ffmpegPid;
  };

  it('keeps the recording a second Record starts while a stop still flushes FFmpeg, and stops it with the class', async () => {
    const { socket, roomId } = await liveRoom('flushing');
    try {
      const first = (await socket.emitWithAck('recording:start', {})) as Ack;
      assert.ok(first.ok, first.error ?? '');
      const firstFfmpeg = await ffmpegOf(String(first.recordingId));
      const firstDir = await recordingFolder(c.service, String(first.recordingId));
      await until('a first segment', async () => (await measure(firstDir)).segments >= 1);
      // A host stops; another presses Record before the first recording has closed.
      const stopping = c.service.recordings.stop(roomId);
      const second = (await socket.emitWithAck('recording:start', {})) as Ack;
      await stopping;
      assert.ok(second.ok, second.error ?? '');
      assert.notEqual(second.recordingId, first.recordingId);
      const secondFfmpeg = await ffmpegOf(String(second.recordingId));
      // The second one is the room's recording, whatever the first one's closing did.
      assert.equal(c.service.recordings.state(roomId).recordingId, second.recordingId);
      assert.equal(c.service.recordings.running, 1);
      assert.equal((await c.service.recordings.get(String(first.recordingId)))?.status, 'ready');
      assert.ok(!alive(firstFfmpeg), 'the first FFmpeg was stopped');
      // Ending the class stops it (once it holds a segment: shorter, nothing was recorded); no FFmpeg is left behind.
      const secondDir = await recordingFolder(c.service, String(second.recordingId));
      await until('a segment of the second recording', async () => (await measure(secondDir)).segments >= 1);
      assert.equal(((await socket.emitWithAck('class:end', {})) as Ack).ok, true);
      const secondRow = await c.service.recordings.get(String(second.recordingId));
      assert.equal(secondRow?.status, 'ready', secondRow?.failureReason ?? '');
      assert.ok(!alive(secondFfmpeg), 'the second FFmpeg outlived its class');
      assert.equal(c.service.recordings.open, 0);
    } finally {
      socket.close();
    }
  });

  it('forgets why a recording stopped on its own once the class ends', async () => {
    const { socket, roomId } = await liveRoom('forgotten-problem');
    try {
      const started = (await socket.emitWithAck('recording:start', {})) as Ack;
      assert.ok(started.ok, started.error ?? '');
      process.kill(await ffmpegOf(String(started.recordingId)), 'SIGKILL');
      await until('the recording stopped on its own', () => c.service.recordings.state(roomId).problem);
      assert.equal(((await socket.emitWithAck('class:end', {})) as Ack).ok, true);
      assert.equal(c.service.recordings.state(roomId).problem, undefined, 'a problem of a class that ended was kept');
    } finally {
      socket.close();
    }
    // Someone opening the room later is not told of it.
    const later = await launchAs(c.platform, { user: { id: 'forgotten-problem-late', name: 'Late' }, roles: 'learner', resourceLink: { id: 'forgotten-problem-room', title: 'x' } });
    const admission = await connect(c.service, later.seat);
    try {
      const told = await new Promise<{ recording: boolean; problem?: string } | undefined>((resolve) => {
        admission.socket.once('recording:state', resolve);
        setTimeout(() => resolve(undefined), 1_000);
      });
      assert.equal(told?.problem, undefined);
    } finally {
      admission.socket.close();
    }
  });
});

describe('a recording starting while the node shuts down', () => {
  it('is closed with the others: no FFmpeg is left for the next start to recover', async () => {
    const c = await startClassroom('moodle');
    let ffmpeg: number | undefined;
    let recordingId: string | undefined;
    try {
      await c.service.recordings.init();
      const teacher = await launchAs(c.platform, { user: { id: 'racing-teacher', name: 'Teacher' }, roles: 'instructor', resourceLink: { id: 'racing-room', title: 'Racing' } });
      const socket = (await connect(c.service, teacher.seat!)).socket;
      assert.equal(((await socket.emitWithAck('class:start', {})) as Ack).ok, true);
      const roomId = c.service.seats.verify(teacher.seat!).roomId;
      // Record, and shut the node down while FFmpeg starts.
      const starting = c.service.recordings.start(roomId).then(
        (state) => state,
        (error: Error) => ({ recording: false, error: error.message }),
      );
      await c.service.recordings.close();
      const outcome = await starting;
      recordingId = 'recordingId' in outcome ? outcome.recordingId : (await c.service.repositories.recordings.listForCourse((await c.service.repositories.rooms.get(roomId))!.courseId))[0]?.id;
      if (recordingId) ffmpeg = await ffmpegOf(c, recordingId).catch(() => undefined);
      socket.close();
    } finally {
      await c.close();
    }
    assert.equal(c.service.recordings.open, 0, 'a recording outlived the shutdown');
    if (ffmpeg !== undefined) assert.ok(!alive(ffmpeg), 'an FFmpeg outlived the shutdown');
  });

  const ffmpegOf = async (c: Classroom, recordingId: string): Promise<number> => {
    const owner = JSON.parse(await readFile(join(await recordingFolder(c.service, recordingId), 'recorder.json'), 'utf8')) as { ffmpegPid: number };
    return owner.ffmpegPid;
  };
});

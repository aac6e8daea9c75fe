// The recorder's failures, with real FFmpeg and real sockets: FFmpeg missing (the tool still runs
// live classes and says why recording is off, also to a room set to record automatically), FFmpeg
// killed mid-recording (only the recording stops; the host is told; what was written stays
// playable), FFmpeg running but writing nothing (frozen, as in a write that never returns: stopped
// as "interrupted" once it has written nothing for 20 s), and a crash of the tool during a recording (its FFmpeg orphaned, its process gone):
// the next start closes the playlist and marks the recording "interrupted" but playable.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { measure, RecordingService, LinkSigner } from '../../recordings/index.ts';
import { alive } from '../../recordings/recorder.ts';
import { createLogger } from '../../server/logger/index.ts';
import { startClassroom, launchAs, connect, type Classroom } from '../helpers/classroom.ts';
import { keptAndPlayable, recordingFolder } from '../helpers/recording.ts';
import { until } from '../helpers/wait.ts';

const run = promisify(execFile);
type Ack = { ok: boolean; error?: string; [key: string]: unknown };


describe('recording when FFmpeg is missing', () => {
  let c: Classroom;
  before(async () => {
    c = await startClassroom('moodle', { env: { FFMPEG_PATH: '/nonexistent/ffmpeg' } });
  });
  after(() => c?.close());

  it('says so at start-up, refuses to record with how to fix it, and keeps live classes working', async () => {
    await c.service.recordings.init();
    assert.match(c.service.recordings.unavailable ?? '', /FFmpeg was not found at FFMPEG_PATH=\/nonexistent\/ffmpeg.*apt-get install ffmpeg/);
    const teacher = await launchAs(c.platform, { user: { id: 'nf-teacher', name: 'Teacher' }, roles: 'instructor', resourceLink: { id: 'nf-room', title: 'No FFmpeg' } });
    const socket = (await connect(c.service, teacher.seat!)).socket;
    try {
      assert.equal(((await socket.emitWithAck('class:start', {})) as Ack).ok, true);
      const refused = (await socket.emitWithAck('recording:start', {})) as Ack;
      assert.equal(refused.ok, false);
      assert.match(refused.error ?? '', /recording is not available on this server: FFmpeg was not found/);
      const listed = (await socket.emitWithAck('recordings:list', {})) as Ack;
      assert.deepEqual(listed, { ok: true, recordings: [], autoRecord: false });
    } finally {
      socket.close();
    }
  });

  it('goes live in a room set to record automatically, and tells the room why nothing is recorded', async () => {
    const teacher = await launchAs(c.platform, { user: { id: 'nf-auto-teacher', name: 'Teacher' }, roles: 'instructor', resourceLink: { id: 'nf-auto-room', title: 'No FFmpeg, auto' } });
    const socket = (await connect(c.service, teacher.seat!)).socket;
    try {
      assert.deepEqual(await socket.emitWithAck('recording:auto', { autoRecord: true }), { ok: true, autoRecord: true });
      const states: Array<{ recording: boolean; problem?: string }> = [];
      socket.on('recording:state', (s: { recording: boolean; problem?: string }) => states.push(s));
      assert.deepEqual(await socket.emitWithAck('class:start', {}), { ok: true, status: 'live' });
      const state = await until('the host told why nothing is recorded', () => states[0]);
      assert.equal(state.recording, false);
      assert.match(state.problem ?? '', /^The automatic recording did not start: recording is not available on this server: FFmpeg was not found.*The class is live/);
      assert.equal((await c.service.repositories.rooms.get(c.service.seats.verify(teacher.seat!).roomId))?.status, 'live');
      assert.equal(((await socket.emitWithAck('class:end', {})) as Ack).ok, true);
    } finally {
      socket.close();
    }
  });
});

describe('recording failures with real FFmpeg', () => {
  let c: Classroom;
  before(async () => {
    c = await startClassroom('moodle');
  });
  after(() => c?.close());

  /** A host's socket in a live class of its own room, recording: the recording and its FFmpeg. */
  const recordingRoom = async (tag: string) => {
    const teacher = await launchAs(c.platform, { user: { id: `${tag}-teacher`, name: 'Teacher' }, roles: 'instructor', resourceLink: { id: `${tag}-room`, title: tag } });
    const socket = (await connect(c.service, teacher.seat!)).socket;
    await socket.emitWithAck('class:start', {});
    const started = (await socket.emitWithAck('recording:start', {})) as Ack;
    assert.ok(started.ok, started.error ?? '');
    const recordingId = String(started.recordingId);
    const dir = await recordingFolder(c.service, recordingId);
    const found = JSON.parse(await readFile(join(dir, 'recorder.json'), 'utf8')) as { pid: number; ffmpegPid?: number };
    assert.ok(found.ffmpegPid, 'the owner file names FFmpeg');
    return { socket, recordingId, dir, ffmpegPid: found.ffmpegPid };
  };

  it('stops only the recording when FFmpeg dies, tells the host why, and keeps what was written', async () => {
    const { socket, recordingId, dir, ffmpegPid } = await recordingRoom('Killed');
    try {
      await until('a first segment', async () => (await measure(dir)).segments >= 1);
      const told = new Promise<{ recording: boolean; problem?: string }>((resolve) => socket.on('recording:state', resolve));
      process.kill(ffmpegPid, 'SIGKILL');
      const state = await told;
      assert.equal(state.recording, false);
      assert.match(state.problem ?? '', /The recording stopped: FFmpeg stopped.*The class goes on/);
      const row = (await c.service.recordings.get(recordingId))!;
      assert.equal(row.status, 'interrupted');
      assert.ok((await keptAndPlayable(dir, row.durationMs)).segments >= 1, 'the segment written before FFmpeg died is kept');
      // The class is still live, and a new recording can start.
      assert.equal((await c.service.repositories.rooms.get(row.roomId))?.status, 'live');
      // Two presses at once (two host tabs) make one recording, not two.
      const [again, twin] = (await Promise.all([socket.emitWithAck('recording:start', {}), socket.emitWithAck('recording:start', {})])) as Ack[];
      assert.ok(again!.ok && twin!.ok, again!.error ?? twin!.error ?? '');
      assert.equal(twin!.recordingId, again!.recordingId);
      // Ending the class stops and closes the recording.
      await until('a segment of the second recording', async () => (await measure(await recordingFolder(c.service, String(again!.recordingId)))).segments >= 1);
      assert.equal(((await socket.emitWithAck('class:end', {})) as Ack).ok, true);
      assert.equal((await c.service.recordings.get(String(again!.recordingId)))?.status, 'ready');
      assert.equal(c.service.recordings.running, 0);
    } finally {
      socket.close();
    }
  });

  it('stops a recording FFmpeg no longer writes, tells the host, and keeps what was written', async (t) => {
    const { socket, recordingId, dir, ffmpegPid } = await recordingRoom('Frozen');
    try {
      await until('two segments', async () => (await measure(dir)).segments >= 2);
      const states: Array<{ recording: boolean; problem?: string }> = [];
      socket.on('recording:state', (s: { recording: boolean; problem?: string }) => states.push(s));
      process.kill(ffmpegPid, 'SIGSTOP'); // alive, writing nothing
      const frozenAt = Date.now();
      const state = await until('the host told the recording stopped', () => states.find((s) => !s.recording), 45_000);
      const toldAt = Date.now();
      t.diagnostic(`told after ${Date.now() - frozenAt} ms: ${state.problem}`);
      // Told once nothing new was written for 20 s: counted from the last segment FFmpeg wrote (the
      // watch saw it at or after its file time), not from the SIGSTOP, which may come late in a segment.
      const lastWrite = Math.max(...(await Promise.all((await readdir(dir)).filter((f) => f.endsWith('.ts')).map(async (f) => (await stat(join(dir, f))).mtimeMs))));
      assert.ok(toldAt - lastWrite >= 19_000, `told ${toldAt - lastWrite} ms after the last segment was written`);
      assert.match(state.problem ?? '', /^The recording stopped: the recording could not be written to RECORDINGS_DIR: FFmpeg has written nothing for 2\d s\. The class goes on/);
      assert.ok(!alive(ffmpegPid), 'the frozen FFmpeg was killed');
      const row = (await c.service.recordings.get(recordingId))!;
      assert.equal(row.status, 'interrupted');
      assert.match(await readFile(join(dir, 'index.m3u8'), 'utf8'), /#EXT-X-ENDLIST\s*$/);
      assert.ok((await keptAndPlayable(dir, row.durationMs)).segments >= 2, 'the two segments written before FFmpeg froze are kept');
      assert.equal((await c.service.repositories.rooms.get(row.roomId))?.status, 'live');
    } finally {
      socket.close();
    }
  });

  it('closes a recording left open by a crashed process: its FFmpeg stopped, the playlist closed, marked interrupted but playable', async () => {
    const { socket, recordingId, dir, ffmpegPid } = await recordingRoom('Crashed');
    try {
      await until('two segments', async () => (await measure(dir)).segments >= 2);
      // As after kill -9 of the tool: the owner file names a process that is gone; FFmpeg lives on.
      const dead = spawnSync('true').pid;
      const text = await readFile(join(dir, 'recorder.json'), 'utf8');
      await writeFile(join(dir, 'recorder.json'), text.replace(/"pid":\d+/, `"pid":${dead}`));
      // The next start's recorder (same database and folder, nothing of its own running).
      const next = new RecordingService({
        media: { tap: () => assert.fail('recovery taps nothing'), findRoom: () => undefined, videoCodecs: ['H264', 'VP8'] },
        repositories: () => c.service.repositories,
        logger: createLogger('silent'),
        dir: c.service.settings.recordingsDir,
        ffmpegPath: 'ffmpeg',
        signer: new LinkSigner(Buffer.alloc(32)),
        publicPath: '/vod',
        linkSeconds: 60,
        retentionDays: undefined,
      });
      assert.equal(await next.recover(), 1);
      assert.ok(!alive(ffmpegPid), 'the orphaned FFmpeg was stopped');
      const row = (await c.service.recordings.get(recordingId))!;
      assert.equal(row.status, 'interrupted');
      assert.match(row.failureReason ?? '', /server stopped during the recording/);
      const playlist = await readFile(join(dir, 'index.m3u8'), 'utf8');
      assert.match(playlist, /#EXT-X-ENDLIST\s*$/);
      assert.ok((await keptAndPlayable(dir, row.durationMs)).segments >= 1, 'what was written before the crash is kept and plays');
      assert.equal(await next.recover(), 0, 'nothing left to recover');
    } finally {
      socket.close();
    }
  });
});

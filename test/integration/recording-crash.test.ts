// `kill -9` of a real tool process (`node server/main.ts`) during a recording: its FFmpeg is left
// running as an orphan, its row says "recording". The next start of the node (same DATA_DIR, same
// NODE_ID) stops the orphan, closes the playlist with what was written and marks the recording
// "interrupted", playable, and records the class on as its participants come back. PostgreSQL (DATABASE_URL) is shared with this test's own node, which
// registers the platform and answers the launches; skipped without DATABASE_URL.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { Socket } from 'socket.io-client';
import { parseSettings } from '../../config/index.ts';
import { alive } from '../../recordings/recorder.ts';
import { createLogger } from '../../server/logger/index.ts';
import { Service } from '../../server/service.ts';
import { connect, introduce, launchAs } from '../helpers/classroom.ts';
import { Platform } from '../helpers/platform/index.ts';
import { createTemporaryDatabase, serverUrl, type TemporaryDatabase } from '../helpers/postgres.ts';
import { listeningUrl, startTool, type ToolProcess } from '../helpers/tool-process.ts';
import { keptAndPlayable } from '../helpers/recording.ts';
import { until } from '../helpers/wait.ts';

const run = promisify(execFile);

describe('kill -9 of the tool during a recording', { skip: serverUrl ? false : 'DATABASE_URL is not set' }, () => {
  let database: TemporaryDatabase;
  let service: Service;
  let platform: Platform;
  const tools: ToolProcess[] = [];
  const sockets: Socket[] = [];
  const dirs: string[] = [];
  let orphan: number | undefined;
  let ltiKey: string;
  const dir = () => {
    const d = mkdtempSync(join(tmpdir(), 'lc-crash-'));
    dirs.push(d);
    return d;
  };

  before(async () => {
    database = await createTemporaryDatabase(serverUrl as string);
    ltiKey = randomBytes(24).toString('hex');
    const settings = parseSettings({ DATA_DIR: dir(), PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', DATABASE_URL: database.url, LTI_KEY: ltiKey, NODE_ID: 'crash-lti' });
    service = await Service.start(settings, createLogger(settings.logLevel));
    await service.whenDatabaseReady();
    platform = await Platform.start({ flavor: 'moodle' });
    await introduce(service, platform);
  });

  after(async () => {
    for (const socket of sockets) socket.close();
    for (const tool of tools) await tool.stop('SIGKILL');
    if (orphan !== undefined && alive(orphan)) process.kill(orphan, 'SIGKILL');
    await platform?.close();
    await service?.stop();
    await database?.drop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('closes the recording at the next start: the orphaned FFmpeg stopped, the playlist ended, "interrupted" and playable; the class recorded on', async () => {
    const dataDir = dir();
    const node = { DATA_DIR: dataDir, LOG_LEVEL: 'info', DATABASE_URL: database.url, LTI_KEY: ltiKey, NODE_ID: 'crash-node' };
    const first = startTool(node);
    tools.push(first);
    const url = await listeningUrl(first);
    await first.waitForLog((l) => String(l.msg).startsWith('database ready'));

    const teacher = await launchAs(platform, { user: { id: 'crash-teacher', name: 'Teacher' }, roles: 'instructor', resourceLink: { id: 'crash-room', title: 'Crash' } });
    const admission = await connect({ url }, teacher.seat as string);
    sockets.push(admission.socket);
    assert.equal(admission.kind, 'welcome');
    assert.equal(((await admission.socket.emitWithAck('class:start', {})) as { ok: boolean }).ok, true);
    const started = (await admission.socket.emitWithAck('recording:start', {})) as { ok: boolean; recordingId: string; error?: string };
    assert.equal(started.ok, true, started.error ?? '');
    const row = await service.repositories.recordings.get(started.recordingId);
    const folder = join(dataDir, 'recordings', row?.path ?? 'missing');
    await until('two segments written', async () => existsSync(join(folder, 'segment-00001.ts')), 30_000);
    orphan = (JSON.parse(readFileSync(join(folder, 'recorder.json'), 'utf8')) as { ffmpegPid: number }).ffmpegPid;

    // The crash: no shutdown, no signal handler, FFmpeg left behind.
    first.child.kill('SIGKILL');
    await first.exited;
    assert.ok(alive(orphan), 'FFmpeg outlives the killed tool');
    assert.equal((await service.repositories.recordings.get(started.recordingId))?.status, 'recording');
    assert.ok(!readFileSync(join(folder, 'index.m3u8'), 'utf8').includes('#EXT-X-ENDLIST'));

    // The next start on the same DATA_DIR and NODE_ID.
    const second = startTool(node);
    tools.push(second);
    await second.waitForLog((l) => String(l.msg).startsWith('closed an interrupted recording'));
    const closed = await service.repositories.recordings.get(started.recordingId);
    assert.equal(closed?.status, 'interrupted');
    assert.match(closed?.failureReason ?? '', /server stopped during the recording/);
    assert.ok((await keptAndPlayable(folder, closed?.durationMs ?? null)).segments >= 1, 'the segment written before the crash is kept and plays');
    assert.ok(!alive(orphan), 'the orphaned FFmpeg was stopped');
    assert.ok(readFileSync(join(folder, 'index.m3u8'), 'utf8').includes('#EXT-X-ENDLIST'));
    const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-show_entries', 'format=duration', '-of', 'json', join(folder, 'index.m3u8')]);
    const probed = JSON.parse(stdout) as { streams: Array<{ codec_name: string }>; format: { duration: string } };
    assert.deepEqual(probed.streams.map((s) => s.codec_name).sort(), ['aac', 'h264']);
    assert.ok(Number(probed.format.duration) >= 2, `playable for ${probed.format.duration} s`);

    // The class went on: the teacher's widget comes back to the restarted node, which records on
    // (a second recording of the class), once.
    const back = await connect({ url: await listeningUrl(second) }, teacher.seat as string);
    sockets.push(back.socket);
    assert.equal(back.kind, 'welcome');
    const resumed = await second.waitForLog((l) => l.msg === 'recording started', 30_000);
    assert.notEqual(resumed.recording, started.recordingId);
    const courseId = (await service.repositories.rooms.get(row?.roomId ?? 'missing'))?.courseId ?? 'missing';
    const statuses = (await service.repositories.recordings.listForCourse(courseId)).map((r) => [r.id === started.recordingId ? 'crashed' : 'resumed', r.status].join(' '));
    assert.deepEqual(statuses.sort(), ['crashed interrupted', 'resumed recording']);
  });
});

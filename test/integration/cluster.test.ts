// Two nodes behind one PostgreSQL and one Redis (as a deployment with REDIS_URL runs): this test
// process and a child `node server/main.ts`. A room lives on the node its first participant reached;
// a participant who reaches the other node is sent to the room's node (and is then a participant
// like any other: chat, questions, hands, polls, mutes); SIGTERM drains a node: its browsers are
// told to come back, its recording is closed, it exits 0, and the other node takes the class over
// and records on (a second recording of the class; not after a host stopped it).
// Needs DATABASE_URL and REDIS_URL (`.ci/run` sets both); skipped otherwise.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Socket } from 'socket.io-client';
import { parseSettings } from '../../config/index.ts';
import type { ChatView, HandsView, PollView, QuestionView } from '../../server/protocol/index.ts';
import { createLogger } from '../../server/logger/index.ts';
import { Service } from '../../server/service.ts';
import { connect, introduce, launchAs, request } from '../helpers/classroom.ts';
import { next, type Reply } from '../helpers/interaction.ts';
import { Platform } from '../helpers/platform/index.ts';
import { createTemporaryDatabase, serverUrl, type TemporaryDatabase } from '../helpers/postgres.ts';
import { listeningUrl, startTool, type ToolProcess } from '../helpers/tool-process.ts';
import { freePort } from '../helpers/ports.ts';
import { until } from '../helpers/wait.ts';

const redisUrl = process.env.REDIS_URL || undefined;
const skip = !serverUrl ? 'DATABASE_URL is not set' : !redisUrl ? 'REDIS_URL is not set' : false;


describe('two nodes sharing PostgreSQL and Redis', { skip }, () => {
  let database: TemporaryDatabase;
  let service: Service;
  let tool: ToolProcess;
  let platform: Platform;
  let otherUrl: string;
  let otherDataDir: string;
  let ltiKey: string;
  const secrets = { TURN_SECRET: `turn-${randomBytes(12).toString('hex')}`, METRICS_TOKEN: `metrics-${randomBytes(12).toString('hex')}` };
  const dirs: string[] = [];
  const sockets: Socket[] = [];

  before(async () => {
    database = await createTemporaryDatabase(serverUrl as string);
    ltiKey = randomBytes(24).toString('hex');
    const dir = () => {
      const d = mkdtempSync(joinPath(tmpdir(), 'lc-cluster-'));
      dirs.push(d);
      return d;
    };
    const [portA, portB] = [await freePort(), await freePort()];
    const hereUrl = `http://127.0.0.1:${portA}`;
    otherUrl = `http://127.0.0.1:${portB}`;
    const settings = parseSettings({
      DATA_DIR: dir(), PORT: String(portA), HOST: '127.0.0.1', LOG_LEVEL: 'silent', DATABASE_URL: database.url, REDIS_URL: redisUrl as string, LTI_KEY: ltiKey,
      PUBLIC_URL: hereUrl, NODE_ID: `test-a-${portA}`, NODE_URL: hereUrl,
    });
    service = await Service.start(settings, createLogger(settings.logLevel));
    await service.whenDatabaseReady();
    otherDataDir = dir();
    tool = startTool({
      DATA_DIR: otherDataDir, PORT: String(portB), LOG_LEVEL: 'info', DATABASE_URL: database.url, REDIS_URL: redisUrl as string, LTI_KEY: ltiKey,
      PUBLIC_URL: hereUrl, NODE_ID: `test-b-${portB}`, NODE_URL: otherUrl, TURN_URLS: 'turn:127.0.0.1:3478', ...secrets,
    });
    assert.equal(await listeningUrl(tool), otherUrl);
    await tool.waitForLog((l) => String(l.msg).startsWith('database ready'));
    platform = await Platform.start({ flavor: 'moodle' });
    await introduce(service, platform);
    // Both nodes subscribed: each sees two servers on the channel.
    await until('both nodes on Redis', async () => (await service.realtime.io.of('/').adapter.serverCount()) === 2, 10_000, 50);
  });

  after(async () => {
    for (const socket of sockets) socket.close();
    await platform?.close();
    await tool?.stop();
    await service?.stop();
    await database?.drop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** Launches through this process's node, then connects to `node` ('here' or 'there'), following redirects. */
  const join = async (user: string, roles: 'instructor' | 'learner', node: 'here' | 'there', link = 'cluster') => {
    const launched = await launchAs(platform, { user: { id: `cluster-${user}`, name: user }, roles, resourceLink: { id: link } });
    const admission = await connect({ url: node === 'here' ? service.url : otherUrl }, launched.seat);
    assert.equal(admission.kind, 'welcome', `${user} is admitted through ${node}: ${JSON.stringify(admission.kind === 'error' ? admission.message : admission.kind)}`);
    sockets.push(admission.socket);
    return { socket: admission.socket, seat: launched.seat as string, redirects: admission.redirects, userId: service.seats.verify(launched.seat as string).userId };
  };

  /** Whether this process's node holds a socket of the user. */
  const hereHolds = (userId: string) => [...service.realtime.io.of('/').sockets.values()].some((s) => s.data.userId === userId);

  it('sends a participant who reached the other node to the room\'s node, where they take part like everyone else', async () => {
    const host = await join('teacher', 'instructor', 'here');
    const near = await join('near', 'learner', 'here');
    const far = await join('far', 'learner', 'there');
    assert.deepEqual(host.redirects, [], 'the first participant\'s node takes the room');
    assert.deepEqual(far.redirects, [service.url], 'the other node sends the student to the room\'s node');
    assert.ok(hereHolds(far.userId), 'the student is connected to the room\'s node');
    assert.equal((await service.realtime.placement.ownerOf(service.seats.verify(far.seat).roomId)).id, service.realtime.placement.self.id);

    // Chat both ways.
    const farHears = next<ChatView>(far.socket, 'chat:message');
    await request(host.socket, 'chat:send', { body: 'hello from the host' });
    assert.equal((await farHears).body, 'hello from the host');
    const hostHears = next<ChatView>(host.socket, 'chat:message');
    await request(far.socket, 'chat:send', { body: 'hello from the redirected student' });
    assert.deepEqual([(await hostHears).body, (await hostHears).name], ['hello from the redirected student', 'far']);

    // An anonymous question from the redirected student: the host sees who, the other student does not.
    const hostSees = next<QuestionView>(host.socket, 'question:updated');
    const nearSees = next<QuestionView>(near.socket, 'question:updated');
    await request(far.socket, 'question:ask', { body: 'Can you repeat that?', anonymous: true });
    assert.equal((await hostSees).author?.name, 'far');
    assert.equal((await nearSees).author, undefined);

    // A hand raised by the redirected student is brought on stage by the host.
    const queued = next<HandsView>(host.socket, 'hands:changed', (h) => h.queue.length === 1);
    await request(far.socket, 'hand:raise', {});
    assert.equal((await queued).queue[0]?.name, 'far');
    const promoted = next<{ grant: string }>(far.socket, 'grant:changed');
    const brought = await request<Reply & { userId: string }>(host.socket, 'hand:bring', {});
    assert.equal(brought.ok, true);
    assert.equal(brought.userId, far.userId);
    assert.equal((await promoted).grant, 'speaker');

    // A poll: live results to the host, then shared with everyone.
    const farPoll = next<PollView>(far.socket, 'poll:updated');
    const created = await request<Reply & { poll: PollView }>(host.socket, 'poll:create', { question: 'Clear?', options: ['Yes', 'No'] });
    assert.equal((await farPoll).id, created.poll.id);
    const counted = next<PollView>(host.socket, 'poll:updated', (p) => p.counts?.[0] === 1);
    assert.equal((await request<Reply>(far.socket, 'poll:vote', { pollId: created.poll.id, option: 0 })).ok, true);
    await counted;
    refused(await request(far.socket, 'poll:vote', { pollId: created.poll.id, option: 1 }), /already voted/);
    const sharedNear = next<PollView>(near.socket, 'poll:updated', (p) => p.shared);
    await request(host.socket, 'poll:close', { pollId: created.poll.id });
    await request(host.socket, 'poll:share', { pollId: created.poll.id });
    assert.deepEqual((await sharedNear).counts, [1, 0]);

    // Muted by the host: refused.
    const told = next<{ userId?: string; muted: boolean }>(far.socket, 'chat:muted');
    await request(host.socket, 'chat:mute', { userId: far.userId, muted: true });
    assert.deepEqual(await told, { userId: far.userId, muted: true });
    refused(await request(far.socket, 'chat:send', { body: 'can I?' }), /muted your chat/);
  });

  it('drains the other node on SIGTERM: browsers told to come back, its recording closed, exit 0, and this node takes the class over and records on', async () => {
    const host = await join('drain-host', 'instructor', 'there', 'drain');
    const student = await join('drain-student', 'learner', 'here', 'drain');
    assert.deepEqual(host.redirects, []);
    assert.deepEqual(student.redirects, [otherUrl], 'this node sends the student to the room\'s node');
    assert.ok(!hereHolds(student.userId) && !hereHolds(host.userId));
    const roomId = service.seats.verify(host.seat).roomId;

    assert.equal((await request<Reply>(host.socket, 'class:start', {})).ok, true);
    const started = await request<Reply & { recording: boolean; recordingId: string }>(host.socket, 'recording:start', {});
    assert.equal(started.ok, true, JSON.stringify(started));
    assert.equal(started.recording, true);
    // FFmpeg has written a segment: there is something to close.
    const row = await service.repositories.recordings.get(started.recordingId);
    const folder = joinPath(otherDataDir, 'recordings', row?.path ?? 'missing');
    await until('a first segment on the other node', async () => existsSync(joinPath(folder, 'segment-00000.ts')), 20_000);

    const toldHost = next<{ reason: string; reconnectInMs: number }>(host.socket, 'server:draining');
    const toldStudent = next<{ reason: string; reconnectInMs: number }>(student.socket, 'server:draining');
    const code = await tool.stop('SIGTERM');
    assert.equal(code, 0, `the node exits cleanly; stderr: ${tool.stderr()}`);
    // Its whole life in the log, from start to drain: no secret in any line.
    const logged = JSON.stringify(tool.logs) + tool.stderr();
    for (const secret of [ltiKey, secrets.TURN_SECRET, secrets.METRICS_TOKEN]) assert.ok(!logged.includes(secret), 'a secret reached the log');
    assert.ok(tool.logs.some((l) => l.msg === 'drained: browsers told to reconnect through the public address' && l.sockets === 2));
    for (const told of [await toldHost, await toldStudent]) {
      assert.match(told.reason, /restarting/);
      assert.ok(told.reconnectInMs > 0 && told.reconnectInMs <= 3_250);
    }
    const recording = await service.repositories.recordings.get(started.recordingId);
    assert.equal(recording?.status, 'ready', 'the drained node closed its recording');
    assert.ok((recording?.durationMs ?? 0) > 0);

    // Back through the public address: this node takes the room, and the class is still live.
    const again = await connect(service, host.seat);
    sockets.push(again.socket);
    assert.equal(again.kind, 'welcome');
    assert.deepEqual(again.redirects, []);
    assert.equal(again.kind === 'welcome' ? again.state.status : '', 'live');
    assert.equal((await service.realtime.placement.ownerOf(roomId)).id, service.realtime.placement.self.id);

    // The class was being recorded: this node records on, as a second recording of the class.
    const resumed = await until('this node to record on', async () => service.recordings.state(roomId).recordingId, 20_000);
    assert.notEqual(resumed, started.recordingId);
    const resumedRow = await service.repositories.recordings.get(resumed);
    assert.ok(resumedRow, 'the resumed recording has its row');
    await until('a first segment of the resumed recording', async () => existsSync(joinPath(service.recordings.folder(resumedRow), 'segment-00000.ts')), 20_000);
    // The student coming back does not start a third.
    const studentAgain = await connect(service, student.seat);
    sockets.push(studentAgain.socket);
    assert.equal(studentAgain.kind, 'welcome');
    assert.equal(service.recordings.state(roomId).recordingId, resumed);
    // Stopped by the host, it is not resumed again: a reconnect after the stop records nothing.
    assert.equal((await request<Reply & { recording: boolean }>(again.socket, 'recording:stop', {})).recording, false);
    studentAgain.socket.disconnect();
    const afterStop = await connect(service, student.seat);
    sockets.push(afterStop.socket);
    assert.equal(afterStop.kind, 'welcome');
    assert.equal((await service.repositories.classes.current(roomId))?.recording, false, 'the class is no longer marked as recorded');
    assert.equal(await service.recordings.resume(roomId), undefined, 'nothing to resume');
    assert.equal(service.recordings.state(roomId).recording, false);
    const library = await service.repositories.recordings.listForCourse((await service.repositories.rooms.get(roomId))?.courseId ?? 'missing');
    assert.deepEqual(library.filter((r) => r.roomId === roomId).map((r) => r.status).sort(), ['ready', 'ready'], 'the drained part and the resumed part, both playable');
  });
});

function refused(reply: unknown, pattern: RegExp): void {
  const r = reply as Reply;
  assert.equal(r.ok, false);
  assert.match((r as { error: string }).error, pattern);
}

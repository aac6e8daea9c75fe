// Two server processes behind one PostgreSQL and one Redis (as a deployment with REDIS_URL runs):
// participants connected to different processes see the same chat, questions, hands, polls and
// mutes, and a host on one process brings a student connected to the other on stage.
// Needs DATABASE_URL and REDIS_URL (`.ci/run` sets both); skipped otherwise.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Socket } from 'socket.io-client';
import { parseSettings } from '../../config/index.ts';
import type { ChatView, HandsView, PollView, QuestionView } from '../../server/protocol.ts';
import { createLogger } from '../../server/logger.ts';
import { Service } from '../../server/service.ts';
import { connect, introduce, launchAs, request } from '../helpers/classroom.ts';
import { next, type Reply } from '../helpers/interaction.ts';
import { Platform } from '../helpers/platform/index.ts';
import { createTemporaryDatabase, serverUrl, type TemporaryDatabase } from '../helpers/postgres.ts';
import { listeningUrl, startTool, type ToolProcess } from '../helpers/tool-process.ts';
import { until } from '../helpers/wait.ts';

const redisUrl = process.env.REDIS_URL || undefined;
const skip = !serverUrl ? 'DATABASE_URL is not set' : !redisUrl ? 'REDIS_URL is not set' : false;


describe('class interaction across two server processes sharing Redis', { skip }, () => {
  let database: TemporaryDatabase;
  let service: Service;
  let tool: ToolProcess;
  let platform: Platform;
  let otherUrl: string;
  const dirs: string[] = [];
  const sockets: Socket[] = [];

  before(async () => {
    database = await createTemporaryDatabase(serverUrl as string);
    const ltiKey = randomBytes(24).toString('hex');
    const dir = () => {
      const d = mkdtempSync(joinPath(tmpdir(), 'lc-cluster-'));
      dirs.push(d);
      return d;
    };
    const settings = parseSettings({ DATA_DIR: dir(), PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', DATABASE_URL: database.url, REDIS_URL: redisUrl as string, LTI_KEY: ltiKey });
    service = await Service.start(settings, createLogger(settings.logLevel));
    await service.whenDatabaseReady();
    tool = startTool({ DATA_DIR: dir(), LOG_LEVEL: 'info', DATABASE_URL: database.url, REDIS_URL: redisUrl as string, LTI_KEY: ltiKey });
    otherUrl = await listeningUrl(tool);
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

  /** Launches through this process's node, then connects to `node` ('here' or 'there'). */
  const join = async (user: string, roles: 'instructor' | 'learner', node: 'here' | 'there') => {
    const launched = await launchAs(platform, { user: { id: `cluster-${user}`, name: user }, roles, resourceLink: { id: 'cluster' } });
    const admission = await connect(node === 'here' ? service : ({ url: otherUrl } as Service), launched.seat);
    assert.equal(admission.kind, 'welcome', `${user} is admitted on ${node}`);
    sockets.push(admission.socket);
    return { socket: admission.socket, userId: service.lti.seats.verify(launched.seat as string).userId };
  };

  it('shows the same chat, questions, hands, polls and mutes to participants on either process', async () => {
    const host = await join('teacher', 'instructor', 'here');
    const near = await join('near', 'learner', 'here');
    const far = await join('far', 'learner', 'there');

    // Chat both ways.
    const farHears = next<ChatView>(far.socket, 'chat:message');
    await request(host.socket, 'chat:send', { body: 'hello from node A' });
    assert.equal((await farHears).body, 'hello from node A');
    const hostHears = next<ChatView>(host.socket, 'chat:message');
    await request(far.socket, 'chat:send', { body: 'hello from node B' });
    assert.deepEqual([(await hostHears).body, (await hostHears).name], ['hello from node B', 'far']);

    // An anonymous question asked on B: the host on A sees who, the student on A does not.
    const hostSees = next<QuestionView>(host.socket, 'question:updated');
    const nearSees = next<QuestionView>(near.socket, 'question:updated');
    await request(far.socket, 'question:ask', { body: 'Can you repeat that?', anonymous: true });
    assert.equal((await hostSees).author?.name, 'far');
    assert.equal((await nearSees).author, undefined);

    // A hand raised on B is brought on stage by the host on A; the grant reaches B.
    const queued = next<HandsView>(host.socket, 'hands:changed', (h) => h.queue.length === 1);
    await request(far.socket, 'hand:raise', {});
    assert.equal((await queued).queue[0]?.name, 'far');
    const promoted = next<{ grant: string }>(far.socket, 'grant:changed');
    const brought = await request<Reply & { userId: string }>(host.socket, 'hand:bring', {});
    assert.equal(brought.ok, true);
    assert.equal(brought.userId, far.userId);
    assert.equal((await promoted).grant, 'speaker');

    // A poll created on A, voted on B: live results to the host, then shared with everyone.
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

    // Muted on A, refused on B.
    const told = next<{ userId?: string; muted: boolean }>(far.socket, 'chat:muted');
    await request(host.socket, 'chat:mute', { userId: far.userId, muted: true });
    assert.deepEqual(await told, { userId: far.userId, muted: true });
    refused(await request(far.socket, 'chat:send', { body: 'can I?' }), /muted your chat/);
  });
});

function refused(reply: unknown, pattern: RegExp): void {
  const r = reply as Reply;
  assert.equal(r.ok, false);
  assert.match((r as { error: string }).error, pattern);
}

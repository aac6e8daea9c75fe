// A node whose REDIS_URL does not answer (Redis down, or a wrong address) keeps serving the rooms
// that reach it: joins, the class, chat and hands work on this node alone, and it stops cleanly.
// Before, a join waited in node-redis's offline queue until Redis came back.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Socket } from 'socket.io-client';
import type { ChatView, HandsView } from '../../server/protocol/index.ts';
import { request, startClassroom, type Classroom } from '../helpers/classroom.ts';
import { join as joinRoom, next, type Reply } from '../helpers/interaction.ts';
import { freePort } from '../helpers/ports.ts';

describe('a node whose Redis does not answer', () => {
  let classroom: Classroom;
  const sockets: Socket[] = [];

  before(async () => {
    // A port that accepts nothing: Redis "down".
    const port = await freePort();
    classroom = await startClassroom('moodle', { env: { REDIS_URL: `redis://127.0.0.1:${port}`, NODE_ID: 'redis-down' } });
  });

  after(async () => {
    for (const socket of sockets) socket.close();
    await classroom?.close();
  });

  const join = async (user: string, roles: 'instructor' | 'learner') => {
    const { socket, redirects } = await joinRoom(classroom.platform, classroom.service, 'rd', user, roles, { resourceLink: { id: 'redis-down' } });
    sockets.push(socket);
    assert.deepEqual(redirects, [], 'no other node is known: the room is served here');
    return socket;
  };

  it('admits participants, runs the class, chat and hands on this node', async () => {
    const host = await join('host', 'instructor');
    const student = await join('student', 'learner');
    assert.equal((await request<Reply & { status: string }>(host, 'class:start', {})).status, 'live');
    const heard = next<ChatView>(student, 'chat:message');
    assert.equal((await request<Reply>(host, 'chat:send', { body: 'Redis is down and we go on' })).ok, true);
    assert.equal((await heard).body, 'Redis is down and we go on');
    const queued = next<HandsView>(host, 'hands:changed', (h) => h.queue.length === 1);
    await request(student, 'hand:raise', {});
    await queued;
    const promoted = next<{ grant: string }>(student, 'grant:changed');
    assert.equal((await request<Reply>(host, 'hand:bring', {})).ok, true);
    assert.equal((await promoted).grant, 'speaker');
    const ended = await request<Reply & { status: string }>(host, 'class:end', {});
    assert.equal(ended.status, 'ended');
  });
});

// Class interaction with real socket.io clients against a real tool, through real launches: chat
// with history and catch-up after a reconnection, moderation, anonymous questions, hands brought on
// stage, polls, and bad input of every kind (limits, rates, types, host actions by students, other
// rooms' polls, a flood of 10,000 messages) refused with an error acknowledgement.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Socket } from 'socket.io-client';
import type { ChatView, HandsView, InteractionSnapshot, PollView, QuestionView } from '../../server/protocol/index.ts';
import { exportInteraction } from '../../server/rooms/index.ts';
import { connect, request, startClassroom, type Classroom } from '../helpers/classroom.ts';
import { collect, join as joinRoom, next, type Participant, type Reply } from '../helpers/interaction.ts';

type Snapshot = InteractionSnapshot & { ok: true };

describe('class interaction', () => {
  let c: Classroom;
  const sockets: Socket[] = [];
  before(async () => {
    c = await startClassroom('moodle');
  });
  after(async () => {
    for (const socket of sockets) socket.close();
    await c?.close();
  });
  const join = async (room: string, user: string, roles: 'instructor' | 'learner'): Promise<Participant> => {
    const p = await joinRoom(c.platform, c.service, room, user, roles);
    sockets.push(p.socket);
    return p;
  };
  const refused = (reply: Reply, pattern: RegExp, what: string) => {
    assert.equal(reply.ok, false, `${what} is refused`);
    assert.match((reply as { error: string }).error, pattern, what);
  };

  it('delivers chat with author, role and time; a newcomer gets the last 200 and a reconnecting tab exactly what it missed', async () => {
    const host = await join('chat', 'teacher', 'instructor');
    const student = await join('chat', 'ana', 'learner');
    const seen = next<ChatView>(student.socket, 'chat:message');
    const sent = await request<Reply & { message: ChatView }>(host.socket, 'chat:send', { body: '  Welcome <b>all</b>  ' });
    assert.equal(sent.ok, true);
    const received = await seen;
    assert.deepEqual(received, sent.message);
    assert.equal(received.body, 'Welcome <b>all</b>', 'trimmed, stored as text');
    assert.equal(received.role, 'host');
    assert.equal(received.name, 'teacher');
    assert.ok(Math.abs(Date.parse(received.at) - Date.now()) < 60_000);

    // 205 messages from the student's side of the room (through the repository: the rate limit is per user).
    const students: string[] = [];
    for (let i = 0; i < 205; i++) students.push(`message ${i}`);
    for (const body of students) await c.service.repositories.chat.append(student.roomId, student.userId, body, 'attendee');
    const newcomer = await join('chat', 'late', 'learner');
    const snapshot = await request<Snapshot>(newcomer.socket, 'interaction:sync', {});
    assert.equal(snapshot.chat.length, 200);
    assert.equal(snapshot.chat.at(-1)?.body, 'message 204');
    assert.equal(snapshot.chat[0]?.body, 'message 5');
    assert.equal(snapshot.userId, newcomer.userId);

    // The newcomer drops off; meanwhile two messages are sent and one it held is deleted.
    const lastSeen = snapshot.chat.at(-1)!.id;
    const firstSeen = snapshot.chat[0]!.id;
    newcomer.socket.disconnect();
    const a = await request<Reply & { message: ChatView }>(student.socket, 'chat:send', { body: 'while you were away 1' });
    const b = await request<Reply & { message: ChatView }>(host.socket, 'chat:send', { body: 'while you were away 2' });
    assert.equal((await request<Reply>(host.socket, 'chat:delete', { messageId: snapshot.chat[10]!.id })).ok, true);
    const back = await connect(c.service, newcomer.seat);
    assert.equal(back.kind, 'welcome');
    sockets.push(back.socket);
    const caughtUp = await request<Snapshot>(back.socket, 'interaction:sync', { chatAfter: lastSeen, chatFrom: firstSeen });
    assert.deepEqual(caughtUp.chat.map((m) => m.id), [a.message.id, b.message.id]);
    assert.equal(caughtUp.more, false);
    assert.deepEqual(caughtUp.chatDeleted, [snapshot.chat[10]!.id]);
  });

  it('refuses oversized, empty, mistyped and too frequent messages with a clear acknowledgement', async () => {
    const student = await join('limits', 'ben', 'learner');
    refused(await request(student.socket, 'chat:send', { body: 'x'.repeat(1001) }), /invalid chat:send: body: a message is longer than 1,000 characters/, 'a 1,001-character message');
    refused(await request(student.socket, 'chat:send', { body: '   ' }), /a message is empty/, 'an empty message');
    refused(await request(student.socket, 'chat:send', { body: 42 }), /invalid chat:send: body/, 'a number');
    refused(await request(student.socket, 'chat:send', { body: 'hi', html: '<script>' }), /invalid chat:send/, 'an unknown field');
    refused(await request(student.socket, 'question:ask', { body: 'q'.repeat(501) }), /a question is longer than 500 characters/, 'a 501-character question');
    refused(await request(student.socket, 'question:vote', { questionId: -1 }), /invalid question:vote: questionId/, 'a negative id');
    refused(await request(student.socket, 'question:vote', { questionId: '1' }), /invalid question:vote: questionId/, 'an id as a string');
    assert.deepEqual(await request(student.socket, 'chat:shout', { body: 'hi' }), { ok: false, error: 'unknown event "chat:shout"' });
    assert.equal((await request<Reply>(student.socket, 'chat:send', { body: 'x'.repeat(1000) })).ok, true, '1,000 characters is fine');
    for (let i = 0; i < 4; i++) assert.equal((await request<Reply>(student.socket, 'chat:send', { body: `ok ${i}` })).ok, true);
    const sixth = await request<Reply>(student.socket, 'chat:send', { body: 'one too many' });
    refused(sixth, /slow down: at most 5 messages and questions each in 5 seconds; try again in \d s/, 'the sixth message in 5 s');
    assert.ok(sixth.ok === false && sixth.retryAfterMs !== undefined && sixth.retryAfterMs > 0 && sixth.retryAfterMs <= 5_000);
    // Questions have a budget of their own.
    assert.equal((await request<Reply>(student.socket, 'question:ask', { body: 'still allowed?' })).ok, true);
  });

  it('lets only hosts delete messages and mute one participant or the whole room (hosts still write)', async () => {
    const host = await join('moderation', 'teacher', 'instructor');
    const spammer = await join('moderation', 'spammer', 'learner');
    const other = await join('moderation', 'other', 'learner');
    const spam = await request<Reply & { message: ChatView }>(spammer.socket, 'chat:send', { body: 'buy now' });
    refused(await request(other.socket, 'chat:delete', { messageId: spam.message.id }), /only a host can do this/, 'a student deleting');
    refused(await request(other.socket, 'chat:mute', { userId: spammer.userId, muted: true }), /only a host can do this/, 'a student muting');
    const deleted = next<{ id: number }>(other.socket, 'chat:deleted');
    assert.equal((await request<Reply>(host.socket, 'chat:delete', { messageId: spam.message.id })).ok, true);
    assert.deepEqual(await deleted, { id: spam.message.id });
    refused(await request(host.socket, 'chat:delete', { messageId: spam.message.id }), /no such message in this room/, 'deleting twice');

    const told = next<{ userId?: string; muted: boolean }>(spammer.socket, 'chat:muted');
    const othersHear = collect(other.socket, 'chat:muted');
    assert.equal((await request<Reply>(host.socket, 'chat:mute', { userId: spammer.userId, muted: true })).ok, true);
    assert.deepEqual(await told, { userId: spammer.userId, muted: true });
    refused(await request(spammer.socket, 'chat:send', { body: 'again' }), /a host has muted your chat/, 'a muted participant');
    assert.equal((await request<Reply>(other.socket, 'chat:send', { body: 'I can still talk' })).ok, true);
    const seenBySpammer = await request<Snapshot>(spammer.socket, 'interaction:sync', {});
    assert.deepEqual(seenBySpammer.mutes, { room: false, users: [spammer.userId] });
    const seenByHost = await request<Snapshot>(host.socket, 'interaction:sync', {});
    assert.deepEqual(seenByHost.mutes, { room: false, users: [spammer.userId] });
    assert.equal(seenByHost.chat.some((m) => m.id === spam.message.id), false, 'the deleted message is gone from history');
    assert.deepEqual((await request<Snapshot>(other.socket, 'interaction:sync', {})).mutes, { room: false, users: [] }, 'other students are not told who is muted');
    othersHear.stop();
    assert.deepEqual(othersHear.items, []);

    assert.equal((await request<Reply>(host.socket, 'chat:mute', { muted: true })).ok, true);
    refused(await request(other.socket, 'chat:send', { body: 'hello?' }), /muted the chat for everyone/, 'the whole room muted');
    assert.equal((await request<Reply>(host.socket, 'chat:send', { body: 'hosts can still write' })).ok, true);
    assert.equal((await request<Reply>(host.socket, 'chat:mute', { muted: false })).ok, true);
    assert.equal((await request<Reply>(host.socket, 'chat:mute', { userId: spammer.userId, muted: false })).ok, true);
    assert.equal((await request<Reply>(spammer.socket, 'chat:send', { body: 'sorry' })).ok, true);
  });

  it('keeps anonymous questions anonymous to students but not to hosts; one upvote each; sorted by pinned, state and votes', async () => {
    const host = await join('qa', 'teacher', 'instructor');
    const asker = await join('qa', 'asker', 'learner');
    const voter = await join('qa', 'voter', 'learner');
    const hostSees = next<QuestionView>(host.socket, 'question:updated');
    const voterSees = next<QuestionView>(voter.socket, 'question:updated');
    const asked = await request<Reply & { question: QuestionView }>(asker.socket, 'question:ask', { body: 'Is <i>this</i> on the exam?', anonymous: true });
    assert.equal(asked.ok, true);
    assert.equal(asked.question.mine, true);
    assert.deepEqual((await hostSees).author, { userId: asker.userId, name: 'asker' });
    const anonymous = await voterSees;
    assert.equal(anonymous.author, undefined);
    assert.equal(JSON.stringify(anonymous).includes(asker.userId), false, 'no trace of the asker for students');
    assert.equal(JSON.stringify(await request<Snapshot>(voter.socket, 'interaction:sync', {})).includes(asker.userId), false, 'nor in the snapshot');

    const q2 = await request<Reply & { question: QuestionView }>(voter.socket, 'question:ask', { body: 'Second question' });
    const q3 = await request<Reply & { question: QuestionView }>(voter.socket, 'question:ask', { body: 'Third question' });
    refused(await request(asker.socket, 'question:vote', { questionId: asked.question.id }), /your own question/, 'voting for one\'s own question');
    const votedUpdate = next<QuestionView>(host.socket, 'question:updated', (q) => q.id === q2.question.id && q.votes === 1);
    assert.equal((await request<Reply>(asker.socket, 'question:vote', { questionId: q2.question.id })).ok, true);
    await votedUpdate;
    refused(await request(asker.socket, 'question:vote', { questionId: q2.question.id }), /already voted/, 'a second vote');
    refused(await request(asker.socket, 'question:answer', { questionId: q2.question.id }), /only a host/, 'a student answering');
    refused(await request(asker.socket, 'question:pin', { questionId: q2.question.id, pinned: true }), /only a host/, 'a student pinning');

    assert.equal((await request<Reply>(host.socket, 'question:answer', { questionId: q2.question.id })).ok, true);
    assert.equal((await request<Reply>(host.socket, 'question:pin', { questionId: q3.question.id, pinned: true })).ok, true);
    const order = (await request<Snapshot>(asker.socket, 'interaction:sync', {})).questions;
    // Pinned first; then open before answered (the answered one had the most votes).
    assert.deepEqual(order.map((q) => q.id), [q3.question.id, asked.question.id, q2.question.id]);
    assert.equal(order[2]?.voted, true);
    assert.equal(order[2]?.state, 'answered');

    const elsewhere = await join('qa-other', 'teacher', 'instructor');
    refused(await request(elsewhere.socket, 'question:answer', { questionId: q3.question.id }), /no such question in this room/, 'another room\'s question');
  });

  it('queues raised hands in order; a host brings the first on stage as a speaker; lowering is instant', async () => {
    const host = await join('hands', 'teacher', 'instructor');
    const first = await join('hands', 'first', 'learner');
    const second = await join('hands', 'second', 'learner');
    const gone = await join('hands', 'gone', 'learner');
    refused(await request(host.socket, 'hand:raise', {}), /hosts do not raise hands/, 'a host raising');
    refused(await request(host.socket, 'hand:bring', {}), /no hand is raised/, 'an empty queue');
    assert.equal((await request<Reply>(gone.socket, 'hand:raise', {})).ok, true);
    assert.equal((await request<Reply>(first.socket, 'hand:raise', {})).ok, true);
    const raised = next<HandsView>(host.socket, 'hands:changed', (h) => h.queue.length === 3);
    assert.equal((await request<Reply>(second.socket, 'hand:raise', {})).ok, true);
    assert.deepEqual((await raised).queue.map((h) => h.name), ['gone', 'first', 'second']);
    assert.equal((await request<Reply>(first.socket, 'hand:raise', {})).ok, true, 'raising again keeps the place');
    refused(await request(first.socket, 'hand:bring', {}), /only a host/, 'a student bringing someone on stage');
    refused(await request(first.socket, 'hand:lower', { userId: second.userId }), /only a host/, 'a student lowering another\'s hand');

    const counted = next<{ count: number }>(host.socket, 'participants:count', (p) => p.count === 3);
    gone.socket.disconnect();
    await counted;
    const promoted = next<{ grant: string }>(first.socket, 'grant:changed');
    const brought = await request<Reply & { userId: string; grant: string }>(host.socket, 'hand:bring', {});
    assert.equal(brought.ok, true);
    assert.equal(brought.userId, first.userId, 'the first still connected (the one who left is skipped)');
    assert.equal((await promoted).grant, 'speaker');
    const after = await request<Snapshot>(host.socket, 'interaction:sync', {});
    assert.deepEqual(after.hands.queue.map((h) => h.name), ['second']);
    assert.deepEqual(after.hands.stage.map((s) => s.name), ['first']);
    refused(await request(first.socket, 'hand:raise', {}), /already on stage/, 'a speaker raising');

    const lowered = next<HandsView>(host.socket, 'hands:changed', (h) => h.queue.length === 0);
    assert.equal((await request<Reply>(second.socket, 'hand:lower', {})).ok, true);
    await lowered;
    const offStage = next<HandsView>(second.socket, 'hands:changed', (h) => h.stage.length === 0);
    assert.equal((await request<Reply>(host.socket, 'stage:remove', { userId: first.userId })).ok, true);
    await offStage;
  });

  it('runs polls: 2 to 6 options, one vote each, live results to hosts, closed polls and other rooms refused, shared results reach students', async () => {
    const host = await join('polls', 'teacher', 'instructor');
    const s1 = await join('polls', 's1', 'learner');
    const s2 = await join('polls', 's2', 'learner');
    refused(await request(host.socket, 'poll:create', { question: 'One?', options: ['only'] }), /at least 2 options/, 'one option');
    refused(await request(host.socket, 'poll:create', { question: 'Seven?', options: ['1', '2', '3', '4', '5', '6', '7'] }), /at most 6 options/, 'seven options');
    refused(await request(s1.socket, 'poll:create', { question: 'Mine?', options: ['a', 'b'] }), /only a host/, 'a student creating a poll');
    const studentSees = next<PollView>(s1.socket, 'poll:updated');
    const created = await request<Reply & { poll: PollView }>(host.socket, 'poll:create', { question: 'Which topic next?', options: ['Graphs', 'Trees', 'Heaps'] });
    assert.equal(created.ok, true);
    const announced = await studentSees;
    assert.equal(announced.counts, undefined, 'students do not see results before they are shared');
    assert.deepEqual(announced.options, ['Graphs', 'Trees', 'Heaps']);

    const live = next<PollView>(host.socket, 'poll:updated', (p) => p.counts?.[1] === 1);
    const studentUpdates = collect<PollView>(s2.socket, 'poll:updated');
    const vote = await request<Reply & { poll: PollView }>(s1.socket, 'poll:vote', { pollId: created.poll.id, option: 1 });
    assert.equal(vote.ok, true);
    assert.equal(vote.poll.choice, 1);
    assert.deepEqual((await live).counts, [0, 1, 0]);
    refused(await request(s1.socket, 'poll:vote', { pollId: created.poll.id, option: 0 }), /already voted/, 'a second vote');
    refused(await request(s2.socket, 'poll:vote', { pollId: created.poll.id, option: 3 }), /no option 4/, 'an option the poll does not have');
    refused(await request(host.socket, 'poll:vote', { pollId: created.poll.id, option: 0 }), /hosts do not vote/, 'a host voting');
    const other = await join('polls-other', 'teacher', 'instructor');
    const otherPoll = await request<Reply & { poll: PollView }>(other.socket, 'poll:create', { question: 'Elsewhere?', options: ['y', 'n'] });
    refused(await request(s2.socket, 'poll:vote', { pollId: otherPoll.poll.id, option: 0 }), /no such poll in this room/, 'another room\'s poll');
    refused(await request(host.socket, 'poll:close', { pollId: otherPoll.poll.id }), /no such poll in this room/, 'closing another room\'s poll');
    assert.equal((await request<Reply>(s2.socket, 'poll:vote', { pollId: created.poll.id, option: 1 })).ok, true);
    refused(await request(s1.socket, 'poll:close', { pollId: created.poll.id }), /only a host/, 'a student closing');

    assert.equal((await request<Reply>(host.socket, 'poll:close', { pollId: created.poll.id })).ok, true);
    refused(await request(host.socket, 'poll:close', { pollId: created.poll.id }), /already closed/, 'closing twice');
    const late = await join('polls', 'late', 'learner');
    refused(await request(late.socket, 'poll:vote', { pollId: created.poll.id, option: 0 }), /this poll is closed/, 'a vote on a closed poll');
    const shared = next<PollView>(s2.socket, 'poll:updated', (p) => p.shared);
    assert.equal((await request<Reply>(host.socket, 'poll:share', { pollId: created.poll.id })).ok, true);
    assert.deepEqual((await shared).counts, [0, 2, 0]);
    studentUpdates.stop();
    assert.ok(studentUpdates.items.slice(0, -1).every((p) => p.counts === undefined), 'no results reached students before sharing');
    const mine = (await request<Snapshot>(s2.socket, 'interaction:sync', {})).polls.find((p) => p.id === created.poll.id);
    assert.equal(mine?.choice, 1);
    assert.deepEqual(mine?.counts, [0, 2, 0]);
  });

  it('refuses a flood of 10,000 messages from one socket with error acknowledgements, keeps serving the room, and memory stays flat', async () => {
    const host = await join('flood', 'teacher', 'instructor');
    const flooder = await join('flood', 'flooder', 'learner');
    const heapBefore = process.memoryUsage().heapUsed;
    const acks = await Promise.all(Array.from({ length: 10_000 }, (_, i) => flooder.socket.timeout(60_000).emitWithAck(i % 2 ? 'chat:send' : 'question:vote', i % 2 ? { body: `spam ${i}` } : { questionId: i + 1 }) as Promise<Reply>));
    const accepted = acks.filter((a) => a.ok).length;
    assert.equal(accepted, 5, 'five messages got through, nothing else');
    assert.ok(acks.every((a) => a.ok || /slow down|too many actions|no such question/.test(a.error)), 'every refusal says why');
    // The room is still served, the flooder's next message after the window goes through.
    assert.equal((await request<Reply>(host.socket, 'chat:send', { body: 'still here' })).ok, true);
    const history = await request<Snapshot>(host.socket, 'interaction:sync', {});
    assert.equal(history.chat.filter((m) => m.body.startsWith('spam')).length, 5);
    assert.ok(c.service.classes.get(host.roomId)!.interaction.limiterKeys < 50, 'the rate limiter remembers only active participants');
    const growth = process.memoryUsage().heapUsed - heapBefore;
    assert.ok(growth < 64 * 1024 * 1024, `heap grew by ${Math.round(growth / 1024 / 1024)} MB`);
  });

  it('exports the room\'s chat, questions and polls as JSON and CSV, with anonymous askers named for hosts', async () => {
    const host = await join('export', 'teacher', 'instructor');
    const student = await join('export', 'zoë', 'learner');
    await request(student.socket, 'chat:send', { body: '=HYPERLINK("http://evil")' });
    await request(student.socket, 'question:ask', { body: 'Quoted "question", with comma', anonymous: true });
    const poll = await request<Reply & { poll: PollView }>(host.socket, 'poll:create', { question: 'Ready?', options: ['Yes', 'No'] });
    await request(student.socket, 'poll:vote', { pollId: poll.poll.id, option: 0 });
    const json = await exportInteraction(c.service.repositories, host.roomId, 'json');
    assert.match(json.contentType, /application\/json/);
    const data = JSON.parse(json.body) as { chat: Array<{ body: string }>; questions: Array<{ name: string; anonymous: boolean }>; polls: Array<{ options: Array<{ text: string; votes: number }> }> };
    assert.equal(data.chat[0]?.body, '=HYPERLINK("http://evil")');
    assert.deepEqual([data.questions[0]?.name, data.questions[0]?.anonymous], ['zoë', true]);
    assert.deepEqual(data.polls[0]?.options, [{ text: 'Yes', votes: 1 }, { text: 'No', votes: 0 }]);
    const csv = await exportInteraction(c.service.repositories, host.roomId, 'csv');
    assert.match(csv.contentType, /text\/csv/);
    assert.match(csv.filename, /\.csv$/);
    const lines = csv.body.replace(/^\uFEFF/, '').trim().split('\r\n');
    assert.equal(lines.length, 4);
    assert.match(lines[1]!, /^"chat",.*"'=HYPERLINK\(""http:\/\/evil""\)"/, 'a formula is made inert and quotes are doubled');
    assert.match(lines[2]!, /"question",.*"zoë",.*"true","Quoted ""question"", with comma"/);
    assert.match(lines[3]!, /"poll",.*"Ready\?".*"Yes: 1 \| No: 0"/);
  });
});

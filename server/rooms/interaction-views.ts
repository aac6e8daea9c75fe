// What the room's chat, questions, hands and polls look like on the wire, per recipient: hosts see
// who asked an anonymous question and a poll's live results; students do not.
import type { ChatEntry, ChatMutes, PollEntry, QuestionEntry, RaisedHand, Repositories } from '../db/index.ts';
import type { ChatView, ChatMutesView, Grant, HandsView, InteractionRole, InteractionSnapshot, PollView, QuestionView } from '../protocol/index.ts';

/** Messages sent after a reconnection's `chatAfter`, at most, in one snapshot. */
export const CATCH_UP_LIMIT = 500;
/** Messages a newcomer gets. */
export const HISTORY_LIMIT = 200;

export type Viewers = 'host' | 'others';

export const audienceOf = (grant: Grant): Viewers => (grant === 'host' ? 'host' : 'others');

export function roleOf(grant: Grant): InteractionRole {
  return grant === 'host' || grant === 'speaker' ? grant : 'attendee';
}

export function chatView(message: Pick<ChatEntry, 'id' | 'userId' | 'name' | 'role' | 'body' | 'createdAt'>): ChatView {
  return { id: message.id, userId: message.userId, name: message.name, role: roleOf(message.role), body: message.body, at: message.createdAt.toISOString() };
}

export function questionView(question: QuestionEntry, audience: Viewers): QuestionView {
  const shown = audience === 'host' || !question.anonymous;
  return {
    id: question.id,
    body: question.body,
    anonymous: question.anonymous,
    state: question.state,
    pinned: question.pinned,
    votes: question.votes,
    at: question.createdAt.toISOString(),
    ...(shown ? { author: { userId: question.userId, name: question.name } } : {}),
  };
}

export function pollView(poll: PollEntry, audience: Viewers): PollView {
  return {
    id: poll.id,
    question: poll.question,
    options: poll.options,
    state: poll.state,
    shared: poll.shared,
    ...(audience === 'host' || poll.shared ? { counts: poll.counts } : {}),
    at: poll.createdAt.toISOString(),
  };
}

export function handsView(queue: RaisedHand[], stage: Array<{ userId: string; name: string }>): HandsView {
  return { queue: queue.map((h) => ({ userId: h.userId, name: h.name, at: h.raisedAt.toISOString() })), stage };
}

export function mutesView(mutes: ChatMutes, audience: Viewers, userId: string): ChatMutesView {
  return { room: mutes.room, users: audience === 'host' ? mutes.users : mutes.users.filter((u) => u === userId) };
}

/** Everything the panels show, for one participant; `chatAfter` catches up after a reconnection. */
export async function snapshot(
  repos: Repositories,
  who: { roomId: string; userId: string; grant: Grant },
  options: { chatAfter?: number | undefined; chatFrom?: number | undefined },
): Promise<InteractionSnapshot> {
  const { roomId, userId } = who;
  const audience = audienceOf(who.grant);
  const catchingUp = options.chatAfter !== undefined;
  const chat = catchingUp ? await repos.chat.history(roomId, { afterId: options.chatAfter, limit: CATCH_UP_LIMIT + 1 }) : await repos.chat.history(roomId, { limit: HISTORY_LIMIT });
  const more = catchingUp && chat.length > CATCH_UP_LIMIT;
  const questions = await repos.questions.list(roomId);
  const voted = new Set(await repos.questions.votedBy(userId, questions.map((q) => q.id)));
  const polls = await repos.polls.recent(roomId);
  const choices = await repos.polls.choices(userId, polls.map((p) => p.id));
  return {
    userId,
    chat: chat.slice(0, CATCH_UP_LIMIT).map(chatView),
    more,
    chatDeleted: options.chatFrom === undefined ? [] : await repos.chat.deletedFrom(roomId, options.chatFrom),
    questions: questions.map((q) => ({ ...questionView(q, audience), mine: q.userId === userId, voted: voted.has(q.id) })),
    hands: handsView(await repos.hands.queue(roomId), await repos.hands.onStage(roomId)),
    polls: polls.map((p) => {
      const choice = choices.get(p.id);
      return { ...pollView(p, audience), ...(choice === undefined ? {} : { choice }) };
    }),
    mutes: mutesView(await repos.chat.mutes(roomId), audience, userId),
  };
}

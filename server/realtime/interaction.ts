// Class interaction over the live connection: chat (moderated by hosts), questions with upvotes,
// raised hands brought on stage, and single-choice polls. Everything is stored in the room's
// database rows, so every node of a deployment (socket.io over Redis) serves the same state, and
// a VOD or an export can show it later. Emissions that differ per recipient go to two channels:
// the room's hosts, and everyone else.
import type { Server } from 'socket.io';
import { AccessRefusedError, type Decision } from '../access/index.ts';
import type { Repositories } from '../db/index.ts';
import type { Logger } from '../logger.ts';
import { MESSAGE_RATE, type Ack, type ClientEvent, type ClientPayload, type ServerEvents } from '../protocol/index.ts';
import { hostsChannel, roomChannel, userChannel } from './channels.ts';
import type { LiveSocket, SocketData } from './index.ts';
import { audienceOf, chatView, handsView, pollView, questionView, roleOf, snapshot } from './interaction-views.ts';
import { RateLimiter } from './rate-limit.ts';

/** A refusal the participant can act on; `retryAfterMs` for a rate limit. */
export class InteractionError extends Error {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, retryAfterMs?: number) {
    super(message);
    this.name = 'InteractionError';
    this.retryAfterMs = retryAfterMs;
  }

  toAck(): Ack {
    return { ok: false, error: this.message, ...(this.retryAfterMs === undefined ? {} : { retryAfterMs: this.retryAfterMs }) };
  }
}

/** Registers a validated, acknowledged handler for a client event (Realtime's `on`). */
export type Bind = <E extends ClientEvent>(event: E, handler: (parsed: { ok: true; data: ClientPayload<E> }) => Promise<Ack<Record<string, unknown>>>) => void;

type LiveServer = Server<Record<string, never>, ServerEvents, Record<string, never>, SocketData>;

export interface InteractionDependencies {
  io: () => LiveServer;
  repositories: () => Repositories;
  logger: Logger;
  /** access.bringOnStage, then the new grant applied to the participant's sockets on every node. */
  bringOnStage(actorId: string, roomId: string, userId: string): Promise<Decision>;
}

/** Other actions (votes, moderation, hands, syncs): generous, but a flood is refused without touching the database. */
const ACTION_RATE = { count: 30, windowMs: 5_000 } as const;

export class Interaction {
  readonly #deps: InteractionDependencies;
  readonly #messages = new RateLimiter(MESSAGE_RATE.count, MESSAGE_RATE.windowMs);
  readonly #actions = new RateLimiter(ACTION_RATE.count, ACTION_RATE.windowMs);

  constructor(deps: InteractionDependencies) {
    this.#deps = deps;
  }

  /** Rate-limit keys remembered (bounded by who was active in the last few seconds). */
  get limiterKeys(): number {
    return this.#messages.size + this.#actions.size;
  }

  /** Puts an admitted socket in its channels (before it is welcomed). */
  async attach(socket: LiveSocket): Promise<void> {
    const { roomId, userId } = socket.data;
    await socket.join(userChannel(roomId, userId));
    this.grantChanged(socket);
  }

  /** Hosts see what students do not: the socket follows its grant into or out of the hosts' channel. */
  grantChanged(socket: LiveSocket): void {
    const channel = hostsChannel(socket.data.roomId);
    if (socket.data.grant === 'host') void socket.join(channel);
    else void socket.leave(channel);
  }

  /** Someone came on stage or left it: the hands panel shows who is there. */
  stageChanged(roomId: string): void {
    this.#broadcastHands(roomId).catch((error: unknown) => this.#deps.logger.warn({ err: error, room: roomId }, 'sending the hands failed'));
  }

  /** The class ended: hands go down. */
  async classEnded(roomId: string): Promise<void> {
    await this.#deps.repositories().hands.clear(roomId);
    await this.#broadcastHands(roomId);
  }

  register(socket: LiveSocket, on: Bind): void {
    const repos = () => this.#deps.repositories();
    const io = () => this.#deps.io();
    const me = () => socket.data;
    const hostOnly = (): void => {
      if (socket.data.grant !== 'host') throw new InteractionError('only a host can do this');
    };
    const message = (kind: string): void => {
      const wait = this.#messages.take(`${kind}:${me().roomId}:${me().userId}`);
      if (wait > 0) {
        throw new InteractionError(`slow down: at most ${MESSAGE_RATE.count} messages and questions each in ${MESSAGE_RATE.windowMs / 1000} seconds; try again in ${Math.ceil(wait / 1000)} s`, wait);
      }
    };
    const action = (): void => {
      const wait = this.#actions.take(`${me().roomId}:${me().userId}`);
      if (wait > 0) throw new InteractionError(`too many actions at once; try again in ${Math.ceil(wait / 1000)} s`, wait);
    };

    on('interaction:sync', async ({ data }) => {
      action();
      const { roomId, userId, grant } = me();
      return { ok: true, ...(await snapshot(repos(), { roomId, userId, grant }, data)) };
    });

    on('chat:send', async ({ data }) => {
      message('chat');
      const { roomId, userId, name, grant } = me();
      if (grant !== 'host') {
        const muted = await repos().chat.mutedFor(roomId, userId);
        if (muted === 'user') throw new InteractionError('a host has muted your chat');
        if (muted === 'room') throw new InteractionError('a host has muted the chat for everyone');
      }
      const row = await repos().chat.append(roomId, userId, data.body, roleOf(grant));
      const view = chatView({ ...row, name });
      io().to(roomChannel(roomId)).emit('chat:message', view);
      return { ok: true, message: view };
    });

    on('chat:delete', async ({ data }) => {
      hostOnly();
      action();
      const { roomId, userId } = me();
      if (!(await repos().chat.delete(roomId, data.messageId, userId))) throw new InteractionError('there is no such message in this room (or it was already deleted)');
      io().to(roomChannel(roomId)).emit('chat:deleted', { id: data.messageId });
      return { ok: true };
    });

    on('chat:mute', async ({ data }) => {
      hostOnly();
      action();
      const { roomId, userId } = me();
      const target = data.userId;
      if (target === undefined) {
        if (data.muted) await repos().chat.mute(roomId, null, userId);
        else await repos().chat.unmute(roomId, null);
        io().to(roomChannel(roomId)).emit('chat:muted', { muted: data.muted });
        return { ok: true };
      }
      if (target === userId) throw new InteractionError('you cannot mute yourself');
      if (!(await repos().users.get(target))) throw new InteractionError('there is no such participant');
      if (data.muted) await repos().chat.mute(roomId, target, userId);
      else await repos().chat.unmute(roomId, target);
      io().to([hostsChannel(roomId), userChannel(roomId, target)]).emit('chat:muted', { userId: target, muted: data.muted });
      return { ok: true };
    });

    on('question:ask', async ({ data }) => {
      message('question');
      const { roomId, userId } = me();
      const row = await repos().questions.ask(roomId, userId, data.body, data.anonymous === true);
      const question = await this.#publishQuestion(roomId, row.id);
      return { ok: true, question: { ...questionView(question, 'host'), mine: true, voted: false } };
    });

    on('question:vote', async ({ data }) => {
      action();
      const { roomId, userId, grant } = me();
      const outcome = await repos().questions.vote(roomId, data.questionId, userId);
      if (outcome === 'missing') throw new InteractionError('there is no such question in this room');
      if (outcome === 'own') throw new InteractionError('you cannot vote for your own question');
      if (outcome === 'already') throw new InteractionError('you already voted for this question');
      const question = await this.#publishQuestion(roomId, data.questionId);
      return { ok: true, question: { ...questionView(question, audienceOf(grant)), voted: true } };
    });

    on('question:answer', async ({ data }) => {
      hostOnly();
      action();
      const { roomId } = me();
      if (!(await repos().questions.setAnswered(roomId, data.questionId, data.answered ?? true))) throw new InteractionError('there is no such question in this room');
      return { ok: true, question: questionView(await this.#publishQuestion(roomId, data.questionId), 'host') };
    });

    on('question:pin', async ({ data }) => {
      hostOnly();
      action();
      const { roomId } = me();
      if (!(await repos().questions.setPinned(roomId, data.questionId, data.pinned))) throw new InteractionError('there is no such question in this room');
      return { ok: true, question: questionView(await this.#publishQuestion(roomId, data.questionId), 'host') };
    });

    on('hand:raise', async () => {
      action();
      const { roomId, userId, grant } = me();
      if (grant === 'host') throw new InteractionError('hosts do not raise hands');
      if (grant === 'speaker') throw new InteractionError('you are already on stage');
      await repos().hands.raise(roomId, userId);
      return { ok: true, hands: await this.#broadcastHands(roomId) };
    });

    on('hand:lower', async ({ data }) => {
      action();
      const { roomId, userId } = me();
      const target = data.userId ?? userId;
      if (target !== userId) hostOnly();
      const lowered = await repos().hands.lower(roomId, target);
      return { ok: true, lowered, hands: lowered ? await this.#broadcastHands(roomId) : undefined };
    });

    on('hand:bring', async ({ data }) => {
      hostOnly();
      action();
      const { roomId, userId } = me();
      const queue = await repos().hands.queue(roomId);
      const candidates = data.userId === undefined ? queue : queue.filter((h) => h.userId === data.userId);
      if (candidates.length === 0) throw new InteractionError(data.userId === undefined ? 'no hand is raised' : 'that participant\'s hand is not raised');
      let refusal: Error | undefined;
      try {
        for (const hand of candidates) {
          // A hand left up by someone who has gone is skipped (and lowered), not brought on an empty stage.
          const present = (await io().local.in(userChannel(roomId, hand.userId)).fetchSockets()).length > 0;
          if (!present) {
            await repos().hands.lower(roomId, hand.userId);
            continue;
          }
          try {
            const decision = await this.#deps.bringOnStage(userId, roomId, hand.userId);
            await repos().hands.lower(roomId, hand.userId);
            return { ok: true, userId: hand.userId, name: hand.name, grant: decision.grant };
          } catch (error) {
            // Already on stage, or no longer admitted: "bring the first" moves on to the next hand.
            // Any other failure (the LMS, the database) leaves the hand up, to try again.
            if (!(error instanceof AccessRefusedError)) throw error;
            await repos().hands.lower(roomId, hand.userId);
            refusal = error;
          }
        }
        if (refusal) throw refusal;
        throw new InteractionError(data.userId === undefined ? 'nobody with a raised hand is still connected' : 'that participant is no longer connected');
      } finally {
        await this.#broadcastHands(roomId);
      }
    });

    on('poll:create', async ({ data }) => {
      hostOnly();
      action();
      const { roomId, userId } = me();
      const created = await repos().polls.create(roomId, userId, data.question, data.options);
      return { ok: true, poll: pollView(await this.#publishPoll(roomId, created.id), 'host') };
    });

    on('poll:vote', async ({ data }) => {
      action();
      const { roomId, userId, grant } = me();
      if (grant === 'host') throw new InteractionError('hosts do not vote in polls');
      const outcome = await repos().polls.vote(roomId, data.pollId, userId, data.option);
      if (outcome === 'missing') throw new InteractionError('there is no such poll in this room');
      if (outcome === 'closed') throw new InteractionError('this poll is closed');
      if (outcome === 'option') throw new InteractionError(`this poll has no option ${data.option + 1}`);
      if (outcome === 'already') throw new InteractionError('you already voted in this poll');
      const poll = await this.#publishPoll(roomId, data.pollId, { studentsToo: false });
      return { ok: true, poll: { ...pollView(poll, 'others'), choice: data.option } };
    });

    on('poll:close', async ({ data }) => {
      hostOnly();
      action();
      const { roomId } = me();
      if (!(await repos().polls.close(roomId, data.pollId))) {
        const poll = await repos().polls.get(roomId, data.pollId);
        throw new InteractionError(poll ? 'this poll is already closed' : 'there is no such poll in this room');
      }
      return { ok: true, poll: pollView(await this.#publishPoll(roomId, data.pollId), 'host') };
    });

    on('poll:share', async ({ data }) => {
      hostOnly();
      action();
      const { roomId } = me();
      if (!(await repos().polls.share(roomId, data.pollId, data.shared ?? true))) throw new InteractionError('there is no such poll in this room');
      return { ok: true, poll: pollView(await this.#publishPoll(roomId, data.pollId), 'host') };
    });
  }

  /** Sends a question as each side may see it; answers the stored row. */
  async #publishQuestion(roomId: string, id: number) {
    const question = await this.#deps.repositories().questions.get(roomId, id);
    if (!question) throw new InteractionError('there is no such question in this room');
    const io = this.#deps.io();
    io.to(hostsChannel(roomId)).emit('question:updated', questionView(question, 'host'));
    io.to(roomChannel(roomId)).except(hostsChannel(roomId)).emit('question:updated', questionView(question, 'others'));
    return question;
  }

  /**
   * Sends a poll to hosts with its results, and to students with them only once shared. A vote on
   * an unshared poll changes nothing students see, so they are not sent anything then.
   */
  async #publishPoll(roomId: string, id: number, { studentsToo = true }: { studentsToo?: boolean } = {}) {
    const poll = await this.#deps.repositories().polls.get(roomId, id);
    if (!poll) throw new InteractionError('there is no such poll in this room');
    const io = this.#deps.io();
    io.to(hostsChannel(roomId)).emit('poll:updated', pollView(poll, 'host'));
    if (studentsToo || poll.shared) io.to(roomChannel(roomId)).except(hostsChannel(roomId)).emit('poll:updated', pollView(poll, 'others'));
    return poll;
  }

  async #broadcastHands(roomId: string) {
    const repos = this.#deps.repositories();
    const hands = handsView(await repos.hands.queue(roomId), await repos.hands.onStage(roomId));
    this.#deps.io().to(roomChannel(roomId)).emit('hands:changed', hands);
    return hands;
  }
}

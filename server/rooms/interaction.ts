// A class's interaction: chat (moderated by hosts), questions with upvotes, raised hands brought
// on stage, and single-choice polls. Everything is stored in the room's rows, so every node serves
// the same state and a VOD or an export can show it later; what differs per recipient goes to two
// channels (the room's hosts, and everyone else). The rate limits are the class's, and go with it.
import { AccessRefusedError, type Decision } from '../access/index.ts';
import type { Repositories } from '../db/index.ts';
import { ACTION_RATE, MESSAGE_RATE, type ClientEvent, type ClientPayload, type ClientReply, type HandsView, type PollView, type QuestionView } from '../protocol/index.ts';
import { hostsChannel, roomChannel, userChannel } from './channels.ts';
import { ClassRefusal } from './errors.ts';
import { audienceOf, chatView, handsView, pollView, questionView, roleOf, snapshot } from './interaction-views.ts';
import type { Participant } from './participant.ts';
import type { Audience } from './ports.ts';
import { RateLimiter } from './rate-limit.ts';

export interface InteractionOptions {
  roomId: string;
  repositories: () => Repositories;
  audience: Audience;
  /** Whether a user has a tab in the class now. */
  present: (userId: string) => boolean;
  /** Brings an attendee on stage (the class's own path: access, grants, the hands panel). */
  bringOnStage: (actor: Participant, userId: string) => Promise<Decision>;
}

/** What an event's handler answers (besides `ok: true`). */
type Reply<E extends ClientEvent> = Promise<ClientReply<E>>;

export class ClassInteraction {
  readonly #options: InteractionOptions;
  readonly #messages = new RateLimiter(MESSAGE_RATE.count, MESSAGE_RATE.windowMs);
  readonly #actions = new RateLimiter(ACTION_RATE.count, ACTION_RATE.windowMs);

  constructor(options: InteractionOptions) {
    this.#options = options;
  }

  /** Rate-limit keys remembered (bounded by who was active in the last few seconds). */
  get limiterKeys(): number {
    return this.#messages.size + this.#actions.size;
  }

  #repos(): Repositories {
    return this.#options.repositories();
  }

  /** Chat messages and questions: a few per user at a time. */
  #message(kind: string, who: Participant): void {
    const wait = this.#messages.take(`${kind}:${who.userId}`);
    if (wait > 0) {
      throw new ClassRefusal(`slow down: at most ${MESSAGE_RATE.count} messages and questions each in ${MESSAGE_RATE.windowMs / 1000} seconds; try again in ${Math.ceil(wait / 1000)} s`, wait);
    }
  }

  /** Every other action: generous, but a flood is refused without touching the database. */
  #action(who: Participant): void {
    const wait = this.#actions.take(who.userId);
    if (wait > 0) throw new ClassRefusal(`too many actions at once; try again in ${Math.ceil(wait / 1000)} s`, wait);
  }

  async sync(who: Participant, data: ClientPayload<'interaction:sync'>): Reply<'interaction:sync'> {
    this.#action(who);
    return snapshot(this.#repos(), { roomId: this.#options.roomId, userId: who.userId, grant: who.grant }, data);
  }

  async chat(who: Participant, data: ClientPayload<'chat:send'>): Reply<'chat:send'> {
    this.#message('chat', who);
    const { roomId } = this.#options;
    if (who.grant !== 'host') {
      const muted = await this.#repos().chat.mutedFor(roomId, who.userId);
      if (muted === 'user') throw new ClassRefusal('a host has muted your chat');
      if (muted === 'room') throw new ClassRefusal('a host has muted the chat for everyone');
    }
    const row = await this.#repos().chat.append(roomId, who.userId, data.body, roleOf(who.grant));
    const message = chatView({ ...row, name: who.name });
    this.#options.audience.to(roomChannel(roomId)).emit('chat:message', message);
    return { message };
  }

  async deleteMessage(who: Participant, data: ClientPayload<'chat:delete'>): Reply<'chat:delete'> {
    this.#action(who);
    const { roomId } = this.#options;
    if (!(await this.#repos().chat.delete(roomId, data.messageId, who.userId))) throw new ClassRefusal('there is no such message in this room (or it was already deleted)');
    this.#options.audience.to(roomChannel(roomId)).emit('chat:deleted', { id: data.messageId });
    return {};
  }

  async mute(who: Participant, data: ClientPayload<'chat:mute'>): Reply<'chat:mute'> {
    this.#action(who);
    const { roomId, audience } = this.#options;
    const target = data.userId;
    if (target === undefined) {
      if (data.muted) await this.#repos().chat.mute(roomId, null, who.userId);
      else await this.#repos().chat.unmute(roomId, null);
      audience.to(roomChannel(roomId)).emit('chat:muted', { muted: data.muted });
      return {};
    }
    if (target === who.userId) throw new ClassRefusal('you cannot mute yourself');
    if (!(await this.#repos().users.get(target))) throw new ClassRefusal('there is no such participant');
    if (data.muted) await this.#repos().chat.mute(roomId, target, who.userId);
    else await this.#repos().chat.unmute(roomId, target);
    audience.to([hostsChannel(roomId), userChannel(roomId, target)]).emit('chat:muted', { userId: target, muted: data.muted });
    return {};
  }

  async ask(who: Participant, data: ClientPayload<'question:ask'>): Reply<'question:ask'> {
    this.#message('question', who);
    const row = await this.#repos().questions.ask(this.#options.roomId, who.userId, data.body, data.anonymous === true);
    const question = await this.#publishQuestion(row.id);
    return { question: { ...questionView(question, 'host'), mine: true, voted: false } };
  }

  async vote(who: Participant, data: ClientPayload<'question:vote'>): Reply<'question:vote'> {
    this.#action(who);
    const outcome = await this.#repos().questions.vote(this.#options.roomId, data.questionId, who.userId);
    if (outcome === 'missing') throw new ClassRefusal('there is no such question in this room');
    if (outcome === 'own') throw new ClassRefusal('you cannot vote for your own question');
    if (outcome === 'already') throw new ClassRefusal('you already voted for this question');
    const question = await this.#publishQuestion(data.questionId);
    return { question: { ...questionView(question, audienceOf(who.grant)), voted: true } };
  }

  async answer(who: Participant, data: ClientPayload<'question:answer'>): Reply<'question:answer'> {
    this.#action(who);
    if (!(await this.#repos().questions.setAnswered(this.#options.roomId, data.questionId, data.answered ?? true))) throw new ClassRefusal('there is no such question in this room');
    return { question: questionView(await this.#publishQuestion(data.questionId), 'host') };
  }

  async pin(who: Participant, data: ClientPayload<'question:pin'>): Reply<'question:pin'> {
    this.#action(who);
    if (!(await this.#repos().questions.setPinned(this.#options.roomId, data.questionId, data.pinned))) throw new ClassRefusal('there is no such question in this room');
    return { question: questionView(await this.#publishQuestion(data.questionId), 'host') };
  }

  async raiseHand(who: Participant): Reply<'hand:raise'> {
    this.#action(who);
    if (who.grant === 'host') throw new ClassRefusal('hosts do not raise hands');
    if (who.grant === 'speaker') throw new ClassRefusal('you are already on stage');
    await this.#repos().hands.raise(this.#options.roomId, who.userId);
    return { hands: await this.publishHands() };
  }

  async lowerHand(who: Participant, data: ClientPayload<'hand:lower'>): Reply<'hand:lower'> {
    this.#action(who);
    const target = data.userId ?? who.userId;
    if (target !== who.userId && who.grant !== 'host') throw new ClassRefusal('only a host can do this');
    const lowered = await this.#repos().hands.lower(this.#options.roomId, target);
    return lowered ? { lowered, hands: await this.publishHands() } : { lowered };
  }

  async bring(who: Participant, data: ClientPayload<'hand:bring'>): Reply<'hand:bring'> {
    this.#action(who);
    const { roomId } = this.#options;
    const queue = await this.#repos().hands.queue(roomId);
    const candidates = data.userId === undefined ? queue : queue.filter((h) => h.userId === data.userId);
    if (candidates.length === 0) throw new ClassRefusal(data.userId === undefined ? 'no hand is raised' : 'that participant\'s hand is not raised');
    let refusal: Error | undefined;
    try {
      for (const hand of candidates) {
        // A hand left up by someone who has gone is skipped (and lowered), not brought on an empty stage.
        if (!this.#options.present(hand.userId)) {
          await this.#repos().hands.lower(roomId, hand.userId);
          continue;
        }
        try {
          const decision = await this.#options.bringOnStage(who, hand.userId);
          await this.#repos().hands.lower(roomId, hand.userId);
          return { userId: hand.userId, name: hand.name, grant: decision.grant };
        } catch (error) {
          // Already on stage, or no longer admitted: "bring the first" moves on to the next hand.
          // Any other failure (the LMS, the database) leaves the hand up, to try again.
          if (!(error instanceof AccessRefusedError)) throw error;
          await this.#repos().hands.lower(roomId, hand.userId);
          refusal = error;
        }
      }
      if (refusal) throw refusal;
      throw new ClassRefusal(data.userId === undefined ? 'nobody with a raised hand is still connected' : 'that participant is no longer connected');
    } finally {
      await this.publishHands();
    }
  }

  async createPoll(who: Participant, data: ClientPayload<'poll:create'>): Reply<'poll:create'> {
    this.#action(who);
    const created = await this.#repos().polls.create(this.#options.roomId, who.userId, data.question, data.options);
    return { poll: pollView(await this.#publishPoll(created.id), 'host') };
  }

  async votePoll(who: Participant, data: ClientPayload<'poll:vote'>): Reply<'poll:vote'> {
    this.#action(who);
    if (who.grant === 'host') throw new ClassRefusal('hosts do not vote in polls');
    const outcome = await this.#repos().polls.vote(this.#options.roomId, data.pollId, who.userId, data.option);
    if (outcome === 'missing') throw new ClassRefusal('there is no such poll in this room');
    if (outcome === 'closed') throw new ClassRefusal('this poll is closed');
    if (outcome === 'option') throw new ClassRefusal(`this poll has no option ${data.option + 1}`);
    if (outcome === 'already') throw new ClassRefusal('you already voted in this poll');
    const poll = await this.#publishPoll(data.pollId, { studentsToo: false });
    return { poll: { ...pollView(poll, 'others'), choice: data.option } };
  }

  async closePoll(who: Participant, data: ClientPayload<'poll:close'>): Reply<'poll:close'> {
    this.#action(who);
    const { roomId } = this.#options;
    if (!(await this.#repos().polls.close(roomId, data.pollId))) {
      const poll = await this.#repos().polls.get(roomId, data.pollId);
      throw new ClassRefusal(poll ? 'this poll is already closed' : 'there is no such poll in this room');
    }
    return { poll: pollView(await this.#publishPoll(data.pollId), 'host') };
  }

  async sharePoll(who: Participant, data: ClientPayload<'poll:share'>): Reply<'poll:share'> {
    this.#action(who);
    if (!(await this.#repos().polls.share(this.#options.roomId, data.pollId, data.shared ?? true))) throw new ClassRefusal('there is no such poll in this room');
    return { poll: pollView(await this.#publishPoll(data.pollId), 'host') };
  }

  /** The class ended: hands go down. */
  async classEnded(): Promise<void> {
    await this.#repos().hands.clear(this.#options.roomId);
    await this.publishHands();
  }

  /** Tells the room who raised a hand and who is on stage. */
  async publishHands(): Promise<HandsView> {
    const { roomId } = this.#options;
    const hands = handsView(await this.#repos().hands.queue(roomId), await this.#repos().hands.onStage(roomId));
    this.#options.audience.to(roomChannel(roomId)).emit('hands:changed', hands);
    return hands;
  }

  /** Sends a question as each side may see it; answers the stored row. */
  async #publishQuestion(id: number) {
    const { roomId, audience } = this.#options;
    const question = await this.#repos().questions.get(roomId, id);
    if (!question) throw new ClassRefusal('there is no such question in this room');
    audience.to(hostsChannel(roomId)).emit('question:updated', questionView(question, 'host') satisfies QuestionView);
    audience.to(roomChannel(roomId), { except: hostsChannel(roomId) }).emit('question:updated', questionView(question, 'others'));
    return question;
  }

  /**
   * Sends a poll to hosts with its results, and to students with them only once shared. A vote on
   * an unshared poll changes nothing students see, so they are not sent anything then.
   */
  async #publishPoll(id: number, { studentsToo = true }: { studentsToo?: boolean } = {}) {
    const { roomId, audience } = this.#options;
    const poll = await this.#repos().polls.get(roomId, id);
    if (!poll) throw new ClassRefusal('there is no such poll in this room');
    audience.to(hostsChannel(roomId)).emit('poll:updated', pollView(poll, 'host') satisfies PollView);
    if (studentsToo || poll.shared) audience.to(roomChannel(roomId), { except: hostsChannel(roomId) }).emit('poll:updated', pollView(poll, 'others'));
    return poll;
  }
}

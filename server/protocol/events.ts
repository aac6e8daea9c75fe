// Every event a client may send: its payload's schema, who may send it, and what its answer
// carries. The server's socket.io typings, its handlers and the widget's client all derive from
// this one table, so a renamed field or event fails to compile on both sides.
import { z } from 'zod';
import { LIMITS, MEDIA_SOURCES } from './limits.ts';
import type {
  Ack,
  ChatView,
  ClassStatus,
  Grant,
  HandsView,
  InteractionSnapshot,
  PollView,
  QuestionView,
  RecordingStateView,
  RecordingView,
  StageTrack,
} from './views.ts';

/**
 * Who may send an event: every admitted participant, the room's hosts, or whoever is on stage
 * (hosts and speakers). Finer rules (one's own hand, one's own stage place) are the handler's.
 */
export type Sender = 'anyone' | 'host' | 'stage';

/** Control characters no text here may hold (tab, line feed and carriage return aside); NUL cannot even be stored. */
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

const userId = z.string().uuid();
const sdp = z
  .string()
  .min(1)
  .max(LIMITS.sdp)
  .refine((v) => !CONTROL.test(v), 'the SDP holds a control character');
const rowId = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const words = (max: number, what: string) =>
  z
    .string()
    .max(max * 4, `${what} is longer than ${max.toLocaleString('en')} characters`)
    .trim()
    .min(1, `${what} is empty`)
    .max(max, `${what} is longer than ${max.toLocaleString('en')} characters`)
    .refine((v) => !CONTROL.test(v), `${what} holds a control character`);
const nothing = z.object({}).strict();

/** One event of the table: `Reply` is what an accepted event's answer carries besides `ok: true`. */
interface EventSpec<S extends z.ZodType, Reply> {
  schema: S;
  from: Sender;
  /** Never read: it carries the reply's type. */
  reply?: Reply;
}

function event<Reply extends object = Record<never, never>>() {
  return <S extends z.ZodType>(from: Sender, schema: S): EventSpec<S, Reply> => ({ schema, from });
}

export const clientEvents = {
  /** Start the class (students waiting are joined at once). */
  'class:start': event<{ status: ClassStatus }>()('host', nothing),
  /** End the class for everyone; attendance goes to the gradebook when the room asks for it. */
  'class:end': event<{ status: ClassStatus; attendanceSent: number; attendanceProblem?: string }>()('host', nothing),
  /** Bring an attendee on stage. */
  'stage:add': event<{ grant: Grant }>()('host', z.object({ userId }).strict()),
  /** Take someone off stage: a host, or the speaker themself. */
  'stage:remove': event<{ grant: Grant }>()('anyone', z.object({ userId }).strict()),
  /** A fresh seat token (they live minutes), for reconnecting after a network drop. */
  'seat:refresh': event<{ seat: string }>()('anyone', nothing),
  /**
   * The browser's offer for its sending connection (first, renegotiated, or a fresh connection
   * after a network change), and what each of its tracks is (by track id).
   */
  'media:publish': event<{ sdp: string }>()(
    'stage',
    z
      .object({
        sdp,
        sources: z
          .record(z.string().min(1).max(128).refine((v) => !CONTROL.test(v), 'a track id holds a control character'), z.enum(MEDIA_SOURCES))
          .refine((r) => Object.keys(r).length <= LIMITS.tracks, `at most ${LIMITS.tracks} tracks`),
        restart: z.boolean().optional(),
      })
      .strict(),
  ),
  /** Stop sending (closes the sending connection). */
  'media:unpublish': event()('anyone', nothing),
  /**
   * The receiving connection's offer (a fresh connection with `restart`, e.g. after ICE failed).
   * `created`: the server made a new connection; `publishing`: it still has the tab's sending one.
   */
  'media:subscribe': event<{ sdp: string; tracks: StageTrack[]; created: boolean; publishing: boolean }>()('anyone', z.object({ restart: z.boolean().optional(), iceRestart: z.boolean().optional() }).strict()),
  /** The browser's answer to the latest offer of its receiving connection. */
  'media:answer': event()('anyone', z.object({ sdp }).strict()),
  /** What the publisher has switched on, shown to everyone (muted microphone, camera off). */
  'media:state': event()('stage', z.object({ camera: z.boolean(), microphone: z.boolean(), screen: z.boolean() }).strict()),
  /** Record the class (what is on stage, with the host's and a speaker's audio) as a VOD. */
  'recording:start': event<RecordingStateView>()('host', nothing),
  'recording:stop': event<RecordingStateView>()('host', nothing),
  /** The course's recordings, each with a playlist link signed for the asker, and whether this room records itself. */
  'recordings:list': event<{ recordings: RecordingView[]; autoRecord: boolean }>()('anyone', nothing),
  /** Record this room's classes from "Go live" on, or not. */
  'recording:auto': event<{ autoRecord: boolean }>()('host', z.object({ autoRecord: z.boolean() }).strict()),
  /** Rename or delete one of the course's recordings. */
  'recording:rename': event()('host', z.object({ id: z.string().uuid(), title: words(LIMITS.recordingTitle, 'the title') }).strict()),
  'recording:delete': event()('host', z.object({ id: z.string().uuid() }).strict()),
  /**
   * Chat, questions, hands, polls and mutes as they are now. After a reconnection, `chatAfter` is
   * the last message id the client has and `chatFrom` its oldest.
   */
  'interaction:sync': event<InteractionSnapshot>()('anyone', z.object({ chatAfter: rowId.optional(), chatFrom: rowId.optional() }).strict()),
  'chat:send': event<{ message: ChatView }>()('anyone', z.object({ body: words(LIMITS.chat, 'a message') }).strict()),
  /** Delete a message for everyone. */
  'chat:delete': event()('host', z.object({ messageId: rowId }).strict()),
  /** Mute (or unmute) one participant's chat, or the whole room's without `userId`. */
  'chat:mute': event()('host', z.object({ userId: userId.optional(), muted: z.boolean() }).strict()),
  'question:ask': event<{ question: QuestionView }>()('anyone', z.object({ body: words(LIMITS.question, 'a question'), anonymous: z.boolean().optional() }).strict()),
  /** One upvote per participant, never for one's own question. */
  'question:vote': event<{ question: QuestionView }>()('anyone', z.object({ questionId: rowId }).strict()),
  /** Mark answered (or open again with `answered: false`). */
  'question:answer': event<{ question: QuestionView }>()('host', z.object({ questionId: rowId, answered: z.boolean().optional() }).strict()),
  /** Pin or unpin. */
  'question:pin': event<{ question: QuestionView }>()('host', z.object({ questionId: rowId, pinned: z.boolean() }).strict()),
  /** An attendee raises a hand (keeps its place if already up). */
  'hand:raise': event<{ hands: HandsView }>()('anyone', nothing),
  /** Lower your hand; a host lowers anyone's with `userId`. */
  'hand:lower': event<{ lowered: boolean; hands?: HandsView }>()('anyone', z.object({ userId: userId.optional() }).strict()),
  /** Bring the first raised hand still connected (or the one named) on stage, as a speaker. */
  'hand:bring': event<{ userId: string; name: string; grant: Grant }>()('host', z.object({ userId: userId.optional() }).strict()),
  'poll:create': event<{ poll: PollView }>()(
    'host',
    z
      .object({
        question: words(LIMITS.pollQuestion, 'the question'),
        options: z
          .array(words(LIMITS.pollOption, 'an option'))
          .min(LIMITS.pollOptionsMin, `a poll needs at least ${LIMITS.pollOptionsMin} options`)
          .max(LIMITS.pollOptionsMax, `a poll has at most ${LIMITS.pollOptionsMax} options`),
      })
      .strict(),
  ),
  /** Single choice, once. `option` counts from 0. */
  'poll:vote': event<{ poll: PollView }>()('anyone', z.object({ pollId: rowId, option: z.number().int().min(0).max(LIMITS.pollOptionsMax - 1) }).strict()),
  'poll:close': event<{ poll: PollView }>()('host', z.object({ pollId: rowId }).strict()),
  /** Show the results to students (or hide them again with `shared: false`). */
  'poll:share': event<{ poll: PollView }>()('host', z.object({ pollId: rowId, shared: z.boolean().optional() }).strict()),
} as const;

export type ClientEvent = keyof typeof clientEvents;
export type ClientPayload<E extends ClientEvent> = z.infer<(typeof clientEvents)[E]['schema']>;
/** What an accepted event's answer carries besides `ok: true`. */
export type ClientReply<E extends ClientEvent> = NonNullable<(typeof clientEvents)[E]['reply']>;

/** Client -> server events as socket.io's typings want them, for the server and the widget alike. */
export type ClientEvents = { [E in ClientEvent]: (payload: ClientPayload<E>, ack: (answer: Ack<ClientReply<E>>) => void) => void };

export const CLIENT_EVENTS = Object.keys(clientEvents) as ClientEvent[];

/** Who may send `event`. */
export function senderOf(event: ClientEvent): Sender {
  return clientEvents[event].from;
}

/** Validates a payload; answers the data or a message naming what is wrong. */
export function parseClientEvent<E extends ClientEvent>(event: E, payload: unknown): { ok: true; data: ClientPayload<E> } | { ok: false; error: string } {
  if (payload !== undefined && payload !== null && (typeof payload !== 'object' || Array.isArray(payload))) {
    return { ok: false, error: `invalid ${event}: the payload must be an object` };
  }
  const result = clientEvents[event].schema.safeParse(payload ?? {});
  if (result.success) return { ok: true, data: result.data as ClientPayload<E> };
  const issue = result.error.issues[0];
  return { ok: false, error: `invalid ${event}: ${issue ? `${issue.path.join('.') || 'payload'}: ${issue.message}` : 'bad payload'}` };
}

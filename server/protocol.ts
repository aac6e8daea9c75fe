// Messages between the widget and the server over socket.io, one zod schema each. The widget
// imports this file too, so both sides agree on every name and shape.
import { z } from 'zod';

export const PROTOCOL_VERSION = 1;

const userId = z.string().uuid();
/** Control characters no text here may hold (tab, line feed and carriage return aside); NUL cannot even be stored. */
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
/** A browser's SDP is a few KiB; socket.io's message limit is far above this. */
const sdp = z
  .string()
  .min(1)
  .max(60 * 1024)
  .refine((v) => !CONTROL.test(v), 'the SDP holds a control character');

export const MEDIA_SOURCES = ['camera', 'microphone', 'screen'] as const;
export type MediaSource = (typeof MEDIA_SOURCES)[number];

/** One track of the receiving connection: which m-line carries whose camera, microphone or screen. */
export interface StageTrack {
  mid: string;
  userId: string;
  name: string;
  kind: 'audio' | 'video';
  source: MediaSource;
}

/** What a publisher has switched on. */
export interface MediaState {
  userId: string;
  name: string;
  camera: boolean;
  microphone: boolean;
  screen: boolean;
}

/** STUN/TURN servers for the browser's RTCPeerConnection (TURN credentials expire). */
export interface IceServerInfo {
  urls: string[];
  username?: string;
  credential?: string;
}

/** Limits on what participants write (characters, after trimming). */
export const LIMITS = { chat: 1000, question: 500, pollQuestion: 300, pollOption: 120, pollOptionsMin: 2, pollOptionsMax: 6 } as const;
/** Chat messages and questions: at most `count` per user in `windowMs`. */
export const MESSAGE_RATE = { count: 5, windowMs: 5_000 } as const;

const rowId = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const words = (max: number, what: string) =>
  z
    .string()
    .max(max * 4, `${what} is longer than ${max.toLocaleString('en')} characters`)
    .trim()
    .min(1, `${what} is empty`)
    .max(max, `${what} is longer than ${max.toLocaleString('en')} characters`)
    .refine((v) => !CONTROL.test(v), `${what} holds a control character`);

/** Whose words these are: hosts, participants on stage, attendees. */
export type InteractionRole = 'host' | 'speaker' | 'attendee';

export interface ChatView {
  id: number;
  userId: string;
  name: string;
  role: InteractionRole;
  body: string;
  /** ISO 8601. */
  at: string;
}

export interface QuestionView {
  id: number;
  body: string;
  anonymous: boolean;
  state: 'open' | 'answered';
  pinned: boolean;
  votes: number;
  at: string;
  /** Who asked: always for hosts; for everyone else only when the question is not anonymous. */
  author?: { userId: string; name: string };
  /** In a snapshot or an acknowledgement only: you asked it, you voted for it. */
  mine?: boolean;
  voted?: boolean;
}

export interface HandView {
  userId: string;
  name: string;
  at: string;
}

/** The raised hands in order, and who is on stage. */
export interface HandsView {
  queue: HandView[];
  stage: Array<{ userId: string; name: string }>;
}

export interface PollView {
  id: number;
  question: string;
  options: string[];
  state: 'open' | 'closed';
  /** The host showed the results to students. */
  shared: boolean;
  /** Votes per option: always for hosts, for students once shared. */
  counts?: number[];
  at: string;
  /** In a snapshot or an acknowledgement only: the option you chose. */
  choice?: number;
}

export interface ChatMutesView {
  /** The whole room's chat is muted (hosts can still write). */
  room: boolean;
  /** Muted participants: every one for hosts, only yourself for everyone else. */
  users: string[];
}

/** What `interaction:sync` answers: everything a panel needs after joining or reconnecting. */
export interface InteractionSnapshot {
  userId: string;
  /** The last 200 messages, or every message after `chatAfter` (up to 500; `more` says there are others). */
  chat: ChatView[];
  more: boolean;
  /** Messages deleted from `chatFrom` on, to drop from what the client holds. */
  chatDeleted: number[];
  questions: QuestionView[];
  hands: HandsView;
  /** The room's latest polls, newest first. */
  polls: PollView[];
  mutes: ChatMutesView;
}

/** Whether the room is being recorded, shown to everyone. */
export interface RecordingStateView {
  recording: boolean;
  recordingId?: string;
  startedAt?: string;
  /** How the running recording gets its video: H.264 copied from the browser, or VP8 transcoded. */
  videoPath?: 'copy' | 'transcode';
  problem?: string;
}

/** One recording in the course's library. */
export interface RecordingView {
  id: string;
  title: string;
  status: 'recording' | 'ready' | 'interrupted' | 'failed';
  startedAt: string;
  durationMs: number | null;
  sizeBytes: number | null;
  failureReason: string | null;
  /** Signed for you, expiring; absent while there is nothing to play. */
  playlistUrl?: string;
}

/** Client -> server events and their payloads. Every one is answered with an Ack. */
export const clientEvents = {
  /** Host: start the class (students waiting are joined at once). */
  'class:start': z.object({}).strict(),
  /** Host: end the class for everyone. */
  'class:end': z.object({}).strict(),
  /** Host: bring an attendee on stage, or take them off. */
  'stage:add': z.object({ userId }).strict(),
  'stage:remove': z.object({ userId }).strict(),
  /** A fresh seat token (they live minutes), for reconnecting after a network drop. */
  'seat:refresh': z.object({}).strict(),
  /**
   * Host or speaker: the browser's offer for its sending connection (first, renegotiated, or a
   * fresh connection after a network change), and what each of its tracks is (by track id).
   */
  'media:publish': z
    .object({
      sdp: sdp,
      sources: z
        .record(z.string().min(1).max(128).refine((v) => !CONTROL.test(v), 'a track id holds a control character'), z.enum(MEDIA_SOURCES))
        .refine((r) => Object.keys(r).length <= 8, 'at most 8 tracks'),
      restart: z.boolean().optional(),
    })
    .strict(),
  /** Stop sending (closes the sending connection). */
  'media:unpublish': z.object({}).strict(),
  /** The receiving connection's offer (a fresh connection with `restart`, e.g. after ICE failed). */
  'media:subscribe': z.object({ restart: z.boolean().optional() }).strict(),
  /** The browser's answer to the latest offer of its receiving connection. */
  'media:answer': z.object({ sdp }).strict(),
  /** What the publisher has switched on, shown to everyone (muted microphone, camera off). */
  'media:state': z.object({ camera: z.boolean(), microphone: z.boolean(), screen: z.boolean() }).strict(),
  /** Host: record the class (what is on stage, with the host's and a speaker's audio) as a VOD. */
  'recording:start': z.object({}).strict(),
  'recording:stop': z.object({}).strict(),
  /**
   * The course's recordings, each with a playlist link signed for the asker (answered with
   * `recordings`, and `autoRecord`: whether this room records itself when the class goes live).
   */
  'recordings:list': z.object({}).strict(),
  /** Host: record this room's classes from "Go live" on, or not (answered with `autoRecord`). */
  'recording:auto': z.object({ autoRecord: z.boolean() }).strict(),
  /** Host: rename or delete one of the course's recordings. */
  'recording:rename': z.object({ id: z.string().uuid(), title: words(200, 'the title') }).strict(),
  'recording:delete': z.object({ id: z.string().uuid() }).strict(),
  /**
   * Chat, questions, hands, polls and mutes as they are now (answered with an InteractionSnapshot).
   * After a reconnection, `chatAfter` is the last message id the client has and `chatFrom` its oldest.
   */
  'interaction:sync': z.object({ chatAfter: rowId.optional(), chatFrom: rowId.optional() }).strict(),
  'chat:send': z.object({ body: words(LIMITS.chat, 'a message') }).strict(),
  /** Host: delete a message for everyone. */
  'chat:delete': z.object({ messageId: rowId }).strict(),
  /** Host: mute (or unmute) one participant's chat, or the whole room's without `userId`. */
  'chat:mute': z.object({ userId: userId.optional(), muted: z.boolean() }).strict(),
  'question:ask': z.object({ body: words(LIMITS.question, 'a question'), anonymous: z.boolean().optional() }).strict(),
  /** One upvote per participant, never for one's own question. */
  'question:vote': z.object({ questionId: rowId }).strict(),
  /** Host: mark answered (or open again with `answered: false`). */
  'question:answer': z.object({ questionId: rowId, answered: z.boolean().optional() }).strict(),
  /** Host: pin or unpin. */
  'question:pin': z.object({ questionId: rowId, pinned: z.boolean() }).strict(),
  /** An attendee raises a hand (keeps its place if already up). */
  'hand:raise': z.object({}).strict(),
  /** Lower your hand; a host lowers anyone's with `userId`. */
  'hand:lower': z.object({ userId: userId.optional() }).strict(),
  /** Host: bring the first raised hand still connected (or the one named) on stage, as a speaker. */
  'hand:bring': z.object({ userId: userId.optional() }).strict(),
  'poll:create': z
    .object({
      question: words(LIMITS.pollQuestion, 'the question'),
      options: z.array(words(LIMITS.pollOption, 'an option')).min(LIMITS.pollOptionsMin, 'a poll needs at least 2 options').max(LIMITS.pollOptionsMax, 'a poll has at most 6 options'),
    })
    .strict(),
  /** Single choice, once. `option` counts from 0. */
  'poll:vote': z.object({ pollId: rowId, option: z.number().int().min(0).max(LIMITS.pollOptionsMax - 1) }).strict(),
  'poll:close': z.object({ pollId: rowId }).strict(),
  /** Host: show the results to students (or hide them again with `shared: false`). */
  'poll:share': z.object({ pollId: rowId, shared: z.boolean().optional() }).strict(),
} as const;

export type ClientEvent = keyof typeof clientEvents;
export type ClientPayload<E extends ClientEvent> = z.infer<(typeof clientEvents)[E]>;

/** Why someone may not be here, for the widget to say in the user's language (`reason` is English). */
export type RevocationCode = 'notEnrolled' | 'inactive' | 'deleted' | 'restricted' | 'notPaid' | 'unverified' | 'role' | 'paymentUnsupported' | 'roomFull';

export type Grant = 'host' | 'speaker' | 'attendee' | 'denied';
export type ClassStatus = 'scheduled' | 'live' | 'ended';

/** A refusal may say when to try again (a rate limit). */
export type Ack<T = Record<string, never>> = ({ ok: true } & T) | { ok: false; error: string; retryAfterMs?: number };

/** Client -> server events as socket.io's typings want them: a payload and an acknowledgement. */
export type ClientEmits = { [E in ClientEvent]: (payload: ClientPayload<E>, ack: (answer: Ack<Record<string, unknown>>) => void) => void };

/**
 * When several nodes serve the tool, a room lives on one: a connection that reaches another node
 * is refused with this in the connect error's `data`, and the client connects to `node` instead.
 */
export interface NodeRedirect {
  node: string;
}

/** Server -> client events. */
export interface ServerEvents {
  /** Sent once after the connection is accepted. */
  welcome: (state: { protocol: number; grant: Grant; reason: string; status: ClassStatus; participants: number; iceServers: IceServerInfo[] }) => void;
  'class:status': (state: { status: ClassStatus }) => void;
  'participants:count': (state: { count: number }) => void;
  /** Your grant changed (brought on stage, taken off). */
  'grant:changed': (state: { grant: Grant; reason: string }) => void;
  /** You may no longer be in this room; the server disconnects right after. */
  'access:revoked': (state: { reason: string; code?: RevocationCode }) => void;
  /**
   * This node is shutting down (a deployment or a restart): connect again to the tool's public
   * address after `reconnectInMs` (spread, so a room does not return all at once); another node
   * takes the class over. The server disconnects right after.
   */
  'server:draining': (state: { reason: string; reconnectInMs: number }) => void;
  /** A new offer for your receiving connection (what is on stage changed): answer with media:answer. */
  'media:offer': (state: { sdp: string; tracks: StageTrack[] }) => void;
  /** One of your connections failed on the server's side and was closed: make a fresh one. */
  'media:failed': (state: { side: 'publisher' | 'subscriber'; reason: string }) => void;
  /** Someone's camera, microphone or screen was switched on or off (or they stopped publishing: all false). */
  'media:state': (state: MediaState) => void;
  /** The room's recording started or stopped (`problem`: it stopped on its own, and why). */
  'recording:state': (state: RecordingStateView) => void;
  /** The course's recordings (one stopped, was renamed or deleted) or the room's autoRecord changed: ask recordings:list again. */
  'recordings:changed': (state: Record<string, never>) => void;
  'chat:message': (message: ChatView) => void;
  /** A host deleted a message for everyone. */
  'chat:deleted': (state: { id: number }) => void;
  /** A participant's chat (or, without `userId`, the whole room's) was muted or unmuted; a participant hears only of their own. */
  'chat:muted': (state: { userId?: string; muted: boolean }) => void;
  /** A question was asked, upvoted, answered or pinned. */
  'question:updated': (question: QuestionView) => void;
  'hands:changed': (hands: HandsView) => void;
  /** A poll was created, voted in (counts to hosts, and to students once shared), closed or shared. */
  'poll:updated': (poll: PollView) => void;
}

/** Validates a payload; answers the data or a message naming what is wrong. */
export function parseClientEvent<E extends ClientEvent>(event: E, payload: unknown): { ok: true; data: ClientPayload<E> } | { ok: false; error: string } {
  if (payload !== undefined && payload !== null && (typeof payload !== 'object' || Array.isArray(payload))) {
    return { ok: false, error: `invalid ${event}: the payload must be an object` };
  }
  const result = clientEvents[event].safeParse(payload ?? {});
  if (result.success) return { ok: true, data: result.data as ClientPayload<E> };
  const issue = result.error.issues[0];
  return { ok: false, error: `invalid ${event}: ${issue ? `${issue.path.join('.') || 'payload'}: ${issue.message}` : 'bad payload'}` };
}

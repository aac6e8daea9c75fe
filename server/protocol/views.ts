// What travels between the server and the widget: the views the server sends and the events it
// emits. Types only; the client events, with their schemas, are in events.ts.
import type { MEDIA_SOURCES } from './limits.ts';

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


/** Why someone may not be here, for the widget to say in the user's language (`reason` is English). */
export type RevocationCode = 'notEnrolled' | 'inactive' | 'deleted' | 'restricted' | 'notPaid' | 'unverified' | 'role' | 'paymentUnsupported' | 'roomFull';

export type Grant = 'host' | 'speaker' | 'attendee' | 'denied';
export type ClassStatus = 'scheduled' | 'live' | 'ended';

/** A refusal may say when to try again (a rate limit). */
export type Ack<T = Record<string, never>> = ({ ok: true } & T) | { ok: false; error: string; retryAfterMs?: number };


/**
 * When several nodes serve the tool, a room lives on one: a connection that reaches another node
 * is refused with this in the connect error's `data`, and the client connects to `node` instead.
 */
export interface NodeRedirect {
  node: string;
}

/** What an admitted connection is told first. */
export interface Welcome {
  protocol: number;
  grant: Grant;
  reason: string;
  status: ClassStatus;
  participants: number;
  iceServers: IceServerInfo[];
  /**
   * Send the camera in three simulcast layers (the SFU gives each viewer the layer its link
   * takes); screens are always sent in one, at full resolution. False on an SFU without simulcast.
   */
  simulcast: boolean;
  /**
   * A connection that lost its path may be kept with an ICE restart (`media:subscribe` with
   * `iceRestart`; a publish offer with new ICE credentials) instead of replaced. False: make a
   * fresh connection.
   */
  iceRestart: boolean;
}

/** Server -> client events. */
export interface ServerEvents {
  /** Sent once after the connection is accepted. */
  welcome: (state: Welcome) => void;
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


// What a live class needs from outside server/rooms, and what it tells: the realtime layer gives it
// connections and channels, recordings/ gives it a recorder. Each side is handed these by the
// composition root; neither imports the other.
import type { Decision } from '../access/index.ts';
import type { Room } from '../db/index.ts';
import type { MediaSource, RecordingStateView, RecordingView, ServerEvents } from '../protocol/index.ts';

type Emit = <E extends keyof ServerEvents>(event: E, ...args: Parameters<ServerEvents[E]>) => unknown;

/** One browser tab's live connection (a socket, to the realtime layer). */
export interface Connection {
  readonly id: string;
  readonly connected: boolean;
  emit: Emit;
  join(channel: string): unknown;
  leave(channel: string): unknown;
  /** Closes the connection from the server's side. */
  disconnect(): void;
}

/** The class's channels: everyone, its hosts, one user's tabs; they span nodes with Redis. */
export interface Audience {
  to(channels: string | string[], options?: { except?: string | string[] }): { emit: Emit };
  /** Tells the other nodes that a user's grant changed in a room (their tabs there follow). */
  grantChangedElsewhere(roomId: string, userId: string, decision: Decision): void;
}

/** A published track as the recorder needs to pick what is on stage. */
export interface StageSource {
  id: string;
  kind: 'audio' | 'video';
  source: MediaSource;
  /** Sent by a host (whose camera and voice come first). */
  host: boolean;
}

/** The recorder (recordings/), as a class uses it. */
export interface ClassRecorder {
  /** A class went live just now: the room may ask to be recorded from the start. */
  classStarted(room: Room, stage: StageSource[]): void;
  /**
   * Someone was admitted: they are told the recording's state, and a class whose recording stopped
   * with the node that served it (`classRecorded`) records on here.
   */
  arrived(roomId: string, classRecorded: boolean, stage: StageSource[], tell: (state: RecordingStateView) => void): void;
  start(roomId: string, stage: StageSource[]): Promise<RecordingStateView>;
  stop(roomId: string): Promise<RecordingStateView>;
  state(roomId: string): RecordingStateView;
  /** The media the recording taps is gone (the SFU worker under the class stopped): the recording closes, playable, and says why. */
  mediaLost(roomId: string, why: string): Promise<void>;
  /** What is on stage changed: a running recording follows. */
  stageChanged(roomId: string, stage: StageSource[]): void;
  /** The class ended: the recording stops, and its last problem is no longer news. */
  classEnded(roomId: string): Promise<void>;
  /** Whether a recording of the room is running or closing here (the class stays while it does). */
  busy(roomId: string): boolean;
  /** Hears every change of a room's recording (started, stopped, and why). */
  onState(listener: (roomId: string, state: RecordingStateView) => void): () => void;
}

/** The course's recordings, as the class's participants list and manage them. */
export interface RecordingLibrary {
  /** Each recording of the course, with a playlist link signed for `userId`. */
  list(courseId: string, userId: string): Promise<RecordingView[]>;
  get(recordingId: string): Promise<{ roomId: string } | undefined>;
  rename(recordingId: string, title: string): Promise<void>;
  /** Deletes the recording, files and all (a running one is stopped first). */
  remove(recordingId: string): Promise<void>;
}

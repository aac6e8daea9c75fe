// The recording controls on the live socket: a host starts and stops the room's recording, sets the
// room to record itself when the class goes live, renames and deletes the course's recordings;
// everyone admitted may list them (with links signed for themselves). The recorder itself is
// recordings/ (RecordingControl is what realtime needs of it).
import type { Repositories } from '../db/index.ts';
import type { Logger } from '../logger.ts';
import type { Ack, ClientEvent, ClientPayload, RecordingStateView, RecordingView } from '../protocol/index.ts';
import { SignalingError, type PublishedTrackView } from './media.ts';

export interface RecordingControl {
  start(roomId: string): Promise<RecordingStateView>;
  stop(roomId: string): Promise<RecordingStateView>;
  /** Records on a class whose recording stopped with the node that served it; undefined if nothing to resume. */
  resume(roomId: string): Promise<RecordingStateView | undefined>;
  state(roomId: string): RecordingStateView;
  /** The rooms being recorded on this node (they stay this node's while it records them). */
  runningRooms(): string[];
  list(courseId: string, userId: string): Promise<RecordingView[]>;
  get(recordingId: string): Promise<{ roomId: string } | undefined>;
  rename(recordingId: string, title: string): Promise<void>;
  remove(recordingId: string): Promise<void>;
  /** The class ended: its recording's last problem is no longer news. */
  forget(roomId: string): void;
}

type On = <E extends ClientEvent>(event: E, handler: (parsed: { ok: true; data: ClientPayload<E> }) => Promise<Ack<Record<string, unknown>>>) => void;

export interface RecordingEventDeps {
  control: () => RecordingControl | undefined;
  seat: { roomId: string; userId: string };
  repositories: () => Pick<Repositories, 'rooms'>;
  hostOnly: () => void;
  /** Refuses unless the class is live. */
  live: () => Promise<void>;
  /** Tells the room's sockets that the library changed. */
  libraryChanged: (roomId: string) => void;
}

/** Registers recording:start/stop/auto, recordings:list, recording:rename/delete on one socket. */
export function registerRecordingEvents(on: On, deps: RecordingEventDeps): void {
  const { roomId, userId } = deps.seat;
  const courseOf = async (id: string) => (await deps.repositories().rooms.get(id))?.courseId;
  const control = (): RecordingControl => {
    const found = deps.control();
    if (!found) throw new SignalingError('recordings are not available yet; try again in a moment');
    return found;
  };
  /** A recording of this room's course, or a refusal. */
  const ofThisCourse = async (recordingId: string) => {
    const row = await control().get(recordingId);
    if (!row || (await courseOf(row.roomId)) !== (await courseOf(roomId))) throw new SignalingError('there is no such recording in this course');
    return row;
  };
  /** The recorder's refusals (RecordingError) reach the host as they are; anything else is ours. */
  const guard = async <T>(call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (error) {
      if (error instanceof Error && error.name === 'RecordingError') throw new SignalingError(error.message);
      throw error;
    }
  };
  on('recording:start', async () => {
    deps.hostOnly();
    await deps.live();
    return { ok: true, ...(await guard(() => control().start(roomId))) };
  });
  on('recording:stop', async () => {
    deps.hostOnly();
    // The recorder tells the room (recording:state, recordings:changed) itself.
    return { ok: true, ...(await guard(() => control().stop(roomId))) };
  });
  on('recordings:list', async () => {
    const room = await deps.repositories().rooms.get(roomId);
    return { ok: true, recordings: await control().list(room?.courseId ?? '', userId), autoRecord: room?.autoRecord ?? false };
  });
  on('recording:auto', async ({ data }) => {
    deps.hostOnly();
    const room = await deps.repositories().rooms.update(roomId, { autoRecord: data.autoRecord });
    if (!room) throw new SignalingError('this room no longer exists');
    // Every tab of the room asks recordings:list again, so other hosts' checkboxes follow.
    deps.libraryChanged(roomId);
    return { ok: true, autoRecord: room.autoRecord };
  });
  on('recording:rename', async ({ data }) => {
    deps.hostOnly();
    await ofThisCourse(data.id);
    await control().rename(data.id, data.title);
    deps.libraryChanged(roomId);
    return { ok: true };
  });
  on('recording:delete', async ({ data }) => {
    deps.hostOnly();
    await ofThisCourse(data.id);
    await control().remove(data.id);
    deps.libraryChanged(roomId);
    return { ok: true };
  });
}

/**
 * The class went live: a room set to record automatically (rooms.auto_record) starts its recording.
 * Not awaited by the go-live, which never waits for FFmpeg nor fails because of it; the recorder
 * registers the start before this returns, so ending the class at once still stops it. A refusal
 * (FFmpeg missing, the disk nearly full) is logged and told to the room as recording:state with
 * the problem, as a recording that stops on its own is.
 */
export function recordIfAsked(
  room: { id: string; autoRecord: boolean } | undefined,
  deps: { recordings?: (() => RecordingControl | undefined) | undefined; logger: Logger },
  tell: (state: RecordingStateView) => void,
): void {
  if (!room?.autoRecord) return;
  const refused = refusal(room.id, deps, tell, 'automatic recording did not start', 'The automatic recording did not start');
  const control = deps.recordings?.();
  if (!control) return refused(new Error('recordings are not available yet'));
  control.start(room.id).catch(refused);
}

/** A recording the room expected did not start: logged, and told to the room as recording:state with the problem. */
function refusal(roomId: string, deps: { logger: Logger }, tell: (state: RecordingStateView) => void, logged: string, told: string): (error: unknown) => void {
  return (error) => {
    const reason = error instanceof Error ? error.message : String(error);
    deps.logger.warn({ room: roomId, reason }, logged);
    tell({ recording: false, problem: `${told}: ${reason}. The class is live; a host can press Record to try again.` });
  };
}

/**
 * A participant arrived: they are told the room's recording state, and a class whose recording
 * stopped with the node that served it (drained, restarted, crashed: `classRecorded`, from
 * class_sessions.recording) records on here. A refusal is told to the room once.
 */
export function recordingOnArrival(
  roomId: string,
  classRecorded: boolean,
  deps: { recordings?: (() => RecordingControl | undefined) | undefined; logger: Logger },
  tell: { one: (state: RecordingStateView) => void; room: (state: RecordingStateView) => void },
): void {
  const control = deps.recordings?.();
  if (!control) return;
  tell.one(control.state(roomId));
  if (!classRecorded) return;
  control.resume(roomId).catch(refusal(roomId, deps, tell.room, 'the recording did not resume', 'The recording stopped when the server changed and could not go on here'));
}

/**
 * What the recording shows: the screen share while there is one, else a camera (a host's first);
 * and up to two microphones, hosts' first (the host's voice and a speaker's, mixed).
 */
export function recordingSources(tracks: PublishedTrackView[]): { video?: string; audio: Array<string | undefined> } {
  const pick = (source: string) => tracks.find((t) => t.kind === 'video' && t.source === source && t.host) ?? tracks.find((t) => t.kind === 'video' && t.source === source);
  const video = pick('screen') ?? pick('camera');
  const voices = [...tracks.filter((t) => t.kind === 'audio' && t.host), ...tracks.filter((t) => t.kind === 'audio' && !t.host)];
  return { ...(video ? { video: video.id } : {}), audio: [voices[0]?.id, voices[1]?.id] };
}

// The recording controls on the live socket: a host starts and stops the room's recording, renames
// and deletes the course's recordings; everyone admitted may list them (with links signed for
// themselves). The recorder itself is recordings/ (RecordingControl is what realtime needs of it).
import type { Repositories } from '../db/index.ts';
import type { Ack, ClientEvent, ClientPayload, RecordingStateView, RecordingView } from '../protocol.ts';
import { SignalingError, type PublishedTrackView } from './media.ts';

export interface RecordingControl {
  start(roomId: string): Promise<RecordingStateView>;
  stop(roomId: string): Promise<RecordingStateView>;
  state(roomId: string): RecordingStateView;
  list(courseId: string, userId: string): Promise<RecordingView[]>;
  get(recordingId: string): Promise<{ roomId: string } | undefined>;
  rename(recordingId: string, title: string): Promise<void>;
  remove(recordingId: string): Promise<void>;
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

/** Registers recording:start/stop, recordings:list, recording:rename/delete on one socket. */
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
  on('recordings:list', async () => ({ ok: true, recordings: await control().list((await courseOf(roomId)) ?? '', userId) }));
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
 * What the recording shows: the screen share while there is one, else a camera (a host's first);
 * and up to two microphones, hosts' first (the host's voice and a speaker's, mixed).
 */
export function recordingSources(tracks: PublishedTrackView[]): { video?: string; audio: Array<string | undefined> } {
  const pick = (source: string) => tracks.find((t) => t.kind === 'video' && t.source === source && t.host) ?? tracks.find((t) => t.kind === 'video' && t.source === source);
  const video = pick('screen') ?? pick('camera');
  const voices = [...tracks.filter((t) => t.kind === 'audio' && t.host), ...tracks.filter((t) => t.kind === 'audio' && !t.host)];
  return { ...(video ? { video: video.id } : {}), audio: [voices[0]?.id, voices[1]?.id] };
}

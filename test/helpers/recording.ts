// Recordings as the tests reach them.
import type { Service } from '../../server/service.ts';

/** A recording's folder in RECORDINGS_DIR; fails if the recording has no row. */
export async function recordingFolder(service: Service, recordingId: string): Promise<string> {
  const row = await service.recordings.get(recordingId);
  if (!row) throw new Error(`no recording ${recordingId}`);
  return service.recordings.folder(row);
}

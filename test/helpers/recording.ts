// Recordings as the tests reach them.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Service } from '../../server/service.ts';

const run = promisify(execFile);

/** A recording's folder in RECORDINGS_DIR; fails if the recording has no row. */
export async function recordingFolder(service: Service, recordingId: string): Promise<string> {
  const row = await service.recordings.get(recordingId);
  if (!row) throw new Error(`no recording ${recordingId}`);
  return service.recordings.folder(row);
}

/**
 * What a recording kept, checked as a viewer would meet it, not against a millisecond boundary:
 * every segment its playlist lists is on disk, the duration stored for it is the playlist's, and
 * FFmpeg plays the playlist (the file, or `servedAt`) for that long (within a second). Answers how
 * many segments and seconds.
 */
export async function keptAndPlayable(dir: string, storedMs: number | null, { servedAt }: { servedAt?: string } = {}): Promise<{ segments: number; seconds: number }> {
  const playlist = await readFile(join(dir, 'index.m3u8'), 'utf8');
  const entries = [...playlist.matchAll(/#EXTINF:([\d.]+),?[^\n]*\n([^\s#][^\n]*)/g)].map((m) => ({ seconds: Number(m[1]), name: (m[2] as string).trim() }));
  assert.ok(entries.length > 0, `the playlist lists no segment:\n${playlist}`);
  for (const { name } of entries) assert.ok((await stat(join(dir, name)).catch(() => undefined))?.size, `${name} is listed but missing or empty`);
  const seconds = entries.reduce((sum, e) => sum + e.seconds, 0);
  assert.ok(Math.abs((storedMs ?? 0) / 1000 - seconds) < 0.05, `the recording says ${storedMs} ms, its playlist ${seconds.toFixed(3)} s`);
  // A playlist left open on a disk that could not be written is served closed: play it as served.
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', servedAt ?? join(dir, 'index.m3u8')], { timeout: 30_000 });
  assert.ok(Math.abs(Number(stdout) - seconds) < 1, `FFmpeg plays ${stdout.trim()} s of a playlist of ${seconds.toFixed(3)} s`);
  return { segments: entries.length, seconds };
}

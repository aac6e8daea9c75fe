// The HLS files of one recording: repairing and closing a playlist FFmpeg could not close (a crash,
// a full disk), measuring what was written, and signing the URLs a browser fetches them by.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const PLAYLIST = 'index.m3u8';
const ENDLIST = '#EXT-X-ENDLIST';
/** What FFmpeg writes into a recording's folder: segments, and their temporary files. */
const SEGMENT_FILE = /^segment-\d+\.ts(\.tmp)?$/;

export interface PlaylistFacts {
  /** Sum of the segments' durations. */
  durationMs: number;
  /** Playlist and segments, in bytes. */
  sizeBytes: number;
  segments: number;
  /** Had #EXT-X-ENDLIST (FFmpeg finished it). */
  closed: boolean;
}

/** The segments a playlist's text lists, in order, and their total duration. */
export function readPlaylist(text: string): { names: string[]; durationMs: number; closed: boolean } {
  let durationMs = 0;
  const names: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const match = /^#EXTINF:([\d.]+)/.exec(lines[i]!);
    if (!match) continue;
    const name = lines[i + 1]?.trim();
    if (!name || name.startsWith('#')) continue;
    durationMs += Math.round(Number(match[1]) * 1000);
    names.push(name);
  }
  return { names, durationMs, closed: lines.some((l) => l.trim() === ENDLIST) };
}

/** Reads a recording's folder; `close` appends #EXT-X-ENDLIST when FFmpeg did not (a crash, a kill). */
export async function measure(dir: string, { close = false } = {}): Promise<PlaylistFacts> {
  let text: string;
  try {
    text = await readFile(join(dir, PLAYLIST), 'utf8');
  } catch {
    return { durationMs: 0, sizeBytes: 0, segments: 0, closed: false };
  }
  const { names, durationMs, closed } = readPlaylist(text);
  if (close && !closed && names.length > 0) await writeFile(join(dir, PLAYLIST), `${text.replace(/\n*$/, '\n')}${ENDLIST}\n`);
  let sizeBytes = 0;
  for (const entry of await readdir(dir)) {
    if (entry === PLAYLIST || /\.ts$/.test(entry)) sizeBytes += (await stat(join(dir, entry))).size;
  }
  return { durationMs, sizeBytes, segments: names.length, closed: closed || (close && names.length > 0) };
}

/**
 * Makes a stopped recording's folder consistent before it is closed. FFmpeg (5.x) rewrites the
 * playlist whole at every segment and, when the disk is full, leaves it empty without reporting
 * any error: `remembered` (the last good playlist read while recording) then takes its place.
 * Segment files the playlist does not list (one cut short, a temporary file) are removed first,
 * which also frees the room to write it back. Nothing is removed while no playlist lists anything.
 * Answers whether the remembered playlist was put back.
 */
export async function settle(dir: string, remembered?: string): Promise<boolean> {
  const onDisk = await readFile(join(dir, PLAYLIST), 'utf8').catch(() => '');
  const restore = remembered !== undefined && readPlaylist(remembered).names.length > readPlaylist(onDisk).names.length;
  const kept = new Set(readPlaylist(restore ? remembered : onDisk).names);
  if (kept.size === 0) return false;
  for (const entry of await readdir(dir)) {
    if (SEGMENT_FILE.test(entry) && !kept.has(entry)) await rm(join(dir, entry), { force: true });
  }
  if (restore) await writeFile(join(dir, PLAYLIST), remembered);
  return restore;
}

/**
 * A finished recording's playlist as served: with #EXT-X-ENDLIST, which closing it could not write
 * when its folder had become read-only (a player would otherwise wait for more, as for a live one).
 */
export function ended(text: string): string {
  return readPlaylist(text).closed ? text : `${text.replace(/\n*$/, '\n')}${ENDLIST}\n`;
}

/** The playlist with each segment's URI carrying the same signed query as the playlist's own. */
export function signPlaylist(text: string, query: string): string {
  return text
    .split('\n')
    .map((line) => (line !== '' && !line.startsWith('#') && /^[\w.-]+$/.test(line.trim()) ? `${line.trim()}?${query}` : line))
    .join('\n');
}

/** A recording link for one user until `expires` (seconds since the epoch). */
export interface LinkGrant {
  recordingId: string;
  userId: string;
  expires: number;
}

export class LinkSigner {
  readonly #key: Buffer;
  constructor(key: Buffer) {
    this.#key = key;
  }

  query(grant: LinkGrant): string {
    return new URLSearchParams({ u: grant.userId, e: String(grant.expires), s: this.#sign(grant) }).toString();
  }

  /** The grant in a link's query, or why it is refused. */
  verify(recordingId: string, query: Record<string, unknown>, now = Date.now()): { ok: true; grant: LinkGrant } | { ok: false; reason: string } {
    const { u, e, s } = query;
    if (typeof u !== 'string' || typeof e !== 'string' || typeof s !== 'string' || !/^\d+$/.test(e)) return { ok: false, reason: 'this recording link is not signed' };
    const grant = { recordingId, userId: u, expires: Number(e) };
    const expected = Buffer.from(this.#sign(grant));
    const given = Buffer.from(s);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: 'this recording link is not valid' };
    if (grant.expires * 1000 < now) return { ok: false, reason: 'this recording link has expired: open the recording again from the course page' };
    return { ok: true, grant };
  }

  #sign(grant: LinkGrant): string {
    return createHmac('sha256', this.#key).update(`${grant.recordingId}\n${grant.userId}\n${grant.expires}`).digest('base64url');
  }
}

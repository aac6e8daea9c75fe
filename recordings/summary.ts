// A recording as the course's library lists it, with a playback link signed for the asking user.
import type { Recording } from '../server/db/index.ts';
import { PLAYLIST, type LinkSigner } from './playlist.ts';

export interface RecordingSummary {
  id: string;
  title: string;
  status: Recording['status'];
  startedAt: string;
  durationMs: number | null;
  sizeBytes: number | null;
  failureReason: string | null;
  /** Signed for the asking user, expiring; absent while nothing is playable. */
  playlistUrl?: string;
}

export interface LinkOptions {
  signer: LinkSigner;
  /** Where the VOD routes are mounted, e.g. '/vod'. */
  publicPath: string;
  /** How long a signed link lives. */
  linkSeconds: number;
}

/** The library entry; a link only while something is playable (a running recording is). */
export function summarize(row: Recording, link: LinkOptions, userId: string, now: number): RecordingSummary {
  const playable = row.status === 'ready' || row.status === 'interrupted' || row.status === 'recording';
  const expires = Math.floor(now / 1000) + link.linkSeconds;
  return {
    id: row.id,
    title: row.title,
    status: row.status,
    startedAt: row.startedAt.toISOString(),
    durationMs: row.durationMs,
    sizeBytes: row.sizeBytes,
    failureReason: row.failureReason,
    ...(playable ? { playlistUrl: `${link.publicPath}/${row.id}/${PLAYLIST}?${link.signer.query({ recordingId: row.id, userId, expires })}` } : {}),
  };
}

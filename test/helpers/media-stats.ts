// What a student's or instructor's browser says of the class's media, from its own getStats (the
// widget's `mediaStats()`, widget/media-stats.ts), and a wait for video and audio to flow.
import type { Frame } from 'playwright-core';
import { until } from './wait.ts';

export interface Received {
  framesDecoded: number;
  audioPacketsReceived: number;
}

/** The widget's MediaTotals, as far as the tests read them. */
export interface MediaTotals extends Received {
  framesEncoded: number;
  receiving: string;
  sending: string;
  /** The same received counts per publisher (user id). */
  byUser: Record<string, Received>;
  /** Each video stream sent (a simulcast layer has its rid) and its encoded width. */
  sentVideo: Array<{ rid: string; width: number }>;
}

export const NOTHING: Received = { framesDecoded: 0, audioPacketsReceived: 0 };

/**
 * The widget's mediaStats() in its frame. Bounded: a page that stops answering (a browser whose
 * network a test cut) fails the wait that asked instead of hanging the test.
 */
export function mediaStats(frame: Frame, timeoutMs = 5_000): Promise<MediaTotals> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    frame.evaluate('document.querySelector("live-classroom").mediaStats()') as Promise<MediaTotals>,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`mediaStats() did not answer within ${timeoutMs / 1000} s`)), timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** How much a count grew since `then`; one smaller than `then` belongs to a new connection, counted from zero. */
const grown = (now: number, then: number) => (now >= then ? now - then : now);

/**
 * Waits until what `read` answers has grown past `from` by more than 15 decoded video frames and
 * 25 audio packets, and answers that reading.
 */
export function flowing<T extends Received>(what: string, read: () => Promise<T | undefined>, from: Received = NOTHING, timeoutMs = 20_000): Promise<T> {
  return until(what, async () => {
    const now = await read();
    return now && grown(now.framesDecoded, from.framesDecoded) > 15 && grown(now.audioPacketsReceived, from.audioPacketsReceived) > 25 ? now : undefined;
  }, timeoutMs);
}

// The protocol's numbers, as plain constants: the widget imports them without pulling in zod.

export const PROTOCOL_VERSION = 1;

export const MEDIA_SOURCES = ['camera', 'microphone', 'screen'] as const;

/** Limits on what participants write (characters, after trimming). */
export const LIMITS = {
  chat: 1000,
  question: 500,
  pollQuestion: 300,
  pollOption: 120,
  pollOptionsMin: 2,
  pollOptionsMax: 6,
  recordingTitle: 200,
  /** A browser's SDP is a few KiB. */
  sdp: 60 * 1024,
  /** Tracks one publisher names at once. */
  tracks: 8,
} as const;

/** Chat messages and questions: at most `count` per user in `windowMs`. */
export const MESSAGE_RATE = { count: 5, windowMs: 5_000 } as const;

/** Other actions (votes, moderation, hands, syncs): at most `count` per user in `windowMs`. */
export const ACTION_RATE = { count: 30, windowMs: 5_000 } as const;

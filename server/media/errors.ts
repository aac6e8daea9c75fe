// The one error type the media module throws. `code` is for programs, `message` for people.

export type MediaErrorCode =
  /** The SDP is missing, not SDP at all, or werift refused to apply it. */
  | 'invalid-sdp'
  /** The call does not fit the negotiation state (an answer with no offer waiting, say). */
  | 'wrong-state'
  /** No such participant (or no publisher/subscriber for it) in the room. */
  | 'not-found'
  /** The room, participant or server was closed while, or before, the call ran. */
  | 'closed'
  /** A connection did not complete ICE and DTLS in time and was closed. */
  | 'timeout';

export class MediaError extends Error {
  readonly code: MediaErrorCode;

  constructor(code: MediaErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MediaError';
    this.code = code;
  }
}

export function describeCause(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

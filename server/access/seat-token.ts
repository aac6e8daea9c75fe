// The seat token: a short-lived, signed ticket that the launch page hands the widget, bound to
// one user, one room and one role. HMAC-SHA256 over a base64url JSON payload.
import { createHmac, timingSafeEqual } from 'node:crypto';

export type SeatRole = 'host' | 'attendee';

export interface Seat {
  userId: string;
  roomId: string;
  role: SeatRole;
  /** Display name, for the widget. */
  name: string;
  locale: string;
  /** Expiry, seconds since the epoch. */
  exp: number;
}

export class SeatTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SeatTokenError';
  }
}

export class SeatTokens {
  readonly #key: Buffer;
  readonly #ttlSeconds: number;

  constructor(secret: string, ttlSeconds = 300) {
    // A key of its own, derived from the LTI key, so seat tokens and ltijs tokens never share one.
    this.#key = createHmac('sha256', secret).update('live-classroom seat token v1').digest();
    this.#ttlSeconds = ttlSeconds;
  }

  /** A key for another purpose (e.g. signing recording links), derived so it never equals this one. */
  derivedKey(purpose: string): Buffer {
    return createHmac('sha256', this.#key).update(`live-classroom ${purpose}`).digest();
  }

  issue(seat: Omit<Seat, 'exp'>, now = Date.now()): string {
    const payload = Buffer.from(JSON.stringify({ ...seat, exp: Math.floor(now / 1000) + this.#ttlSeconds })).toString('base64url');
    return `${payload}.${this.#sign(payload)}`;
  }

  /** Returns the seat, or throws SeatTokenError saying what is wrong with the token. */
  verify(token: string, now = Date.now()): Seat {
    const [payload, signature, extra] = token.split('.');
    if (!payload || !signature || extra !== undefined) throw new SeatTokenError('malformed seat token');
    const expected = Buffer.from(this.#sign(payload));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw new SeatTokenError('seat token signature is not valid');
    let seat: Seat;
    try {
      seat = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Seat;
    } catch {
      throw new SeatTokenError('malformed seat token');
    }
    if (typeof seat.exp !== 'number' || seat.exp * 1000 <= now) throw new SeatTokenError('seat token has expired; launch the class again from the course page');
    return seat;
  }

  #sign(payload: string): string {
    return createHmac('sha256', this.#key).update(payload).digest('base64url');
  }
}

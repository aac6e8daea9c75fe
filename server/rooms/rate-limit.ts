// A sliding-window limit per key (room, user and kind of action): at most `count` accepted actions
// in any `windowMs`. Refused attempts do not count, so a flood cannot push the window out. Keys
// whose window has passed are swept as the limiter is used, so memory stays bounded by the
// participants active in the last window.

export class RateLimiter {
  readonly #count: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #accepted = new Map<string, number[]>();
  #lastSweep = 0;

  constructor(count: number, windowMs: number, now: () => number = Date.now) {
    if (!Number.isInteger(count) || count < 1) throw new TypeError('count must be a positive integer');
    if (!(windowMs > 0)) throw new TypeError('windowMs must be positive');
    this.#count = count;
    this.#windowMs = windowMs;
    this.#now = now;
  }

  /** Records an action and answers 0, or answers how many ms until one more is allowed (nothing recorded). */
  take(key: string): number {
    const now = this.#now();
    this.#sweep(now);
    const since = now - this.#windowMs;
    const times = (this.#accepted.get(key) ?? []).filter((t) => t > since);
    if (times.length >= this.#count) {
      this.#accepted.set(key, times);
      return Math.max(1, (times[0] as number) + this.#windowMs - now);
    }
    times.push(now);
    this.#accepted.set(key, times);
    return 0;
  }

  /** Keys currently remembered (for tests and counters). */
  get size(): number {
    return this.#accepted.size;
  }

  #sweep(now: number): void {
    if (now - this.#lastSweep < this.#windowMs) return;
    this.#lastSweep = now;
    const since = now - this.#windowMs;
    for (const [key, times] of this.#accepted) if ((times.at(-1) ?? 0) <= since) this.#accepted.delete(key);
  }
}

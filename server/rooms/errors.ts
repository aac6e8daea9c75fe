// What a class refuses, in words the participant can act on (`retryAfterMs` for a rate limit).
// Anything else a class call throws is a failure on our side (logged, answered in neutral words).

export class ClassRefusal extends Error {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, retryAfterMs?: number) {
    super(message);
    this.name = 'ClassRefusal';
    this.retryAfterMs = retryAfterMs;
  }
}

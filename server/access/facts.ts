// Facts read from the LMS (membership lists, course-fee results), shared by the decisions of a
// short while. A read is "fresh" when it was made during the current round of decisions: a
// refusal must rest on a fresh read (a cached list may predate a student's enrollment or payment),
// an admission may rest on the cache.
import type { CourseServicesRef, LmsResult, LmsServices, MemberList } from './lms.ts';

export interface Read<T> {
  value: T;
  /** Read at or after the round began. */
  fresh: boolean;
}

/**
 * A round of decisions: `since` is when it began. `mustBeFresh` makes every fact be read again
 * unless it was already read during the round (the re-checks of a live class).
 */
export interface Round {
  since: number;
  mustBeFresh: boolean;
}

interface Cached<T> {
  at: number;
  value: Promise<T>;
}

/** More entries than this and stale ones are swept (a long-running node sees many students). */
const SWEEP_ABOVE = 5_000;

export class LmsFacts {
  readonly #lms: LmsServices;
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  readonly #members = new Map<string, Cached<MemberList>>();
  readonly #results = new Map<string, Cached<LmsResult[]>>();

  constructor(lms: LmsServices, cacheSeconds: number, now: () => number) {
    this.#lms = lms;
    this.#maxAgeMs = cacheSeconds * 1000;
    this.#now = now;
  }

  members(services: CourseServicesRef, courseId: string, resourceLinkId: string | undefined, round: Round): Promise<Read<MemberList>> {
    const options = resourceLinkId === undefined ? {} : { resourceLinkId };
    return this.#read(this.#members, `${courseId}|${resourceLinkId ?? ''}`, () => this.#lms.members(services, options), round);
  }

  /** One user's course-fee result, from a whole-line-item read of this round when there is one. */
  async result(services: CourseServicesRef, lineItemUrl: string, subject: string, round: Round): Promise<Read<LmsResult | undefined>> {
    const all = this.#results.get(`${lineItemUrl}|*`);
    const read = all && this.#usable(all, round) ? await this.#settle(all, round) : await this.#read(this.#results, `${lineItemUrl}|${subject}`, () => this.#lms.results(services, lineItemUrl, subject), round);
    return { value: read.value.find((r) => r.userId === subject), fresh: read.fresh };
  }

  /** Reads every result of a line item once, for the decisions of this round that follow. */
  readAllResults(services: CourseServicesRef, lineItemUrl: string, round: Round): void {
    // Nobody may ask for it (a room of hosts only): the read must not end in an unhandled rejection.
    this.#read(this.#results, `${lineItemUrl}|*`, () => this.#lms.results(services, lineItemUrl), round).catch(() => {});
  }

  /** Forgets a course's membership lists (and every result), or everything. */
  forget(courseId?: string): void {
    if (courseId === undefined) this.#members.clear();
    else for (const key of this.#members.keys()) if (key.startsWith(`${courseId}|`)) this.#members.delete(key);
    this.#results.clear();
  }

  #usable<T>(entry: Cached<T>, round: Round): boolean {
    return round.mustBeFresh ? entry.at >= round.since : this.#now() - entry.at <= this.#maxAgeMs;
  }

  async #settle<T>(entry: Cached<T>, round: Round): Promise<Read<T>> {
    return { value: await entry.value, fresh: entry.at >= round.since };
  }

  /** Single flight: callers in the same moment share one request; a failed one is not kept. */
  #read<T>(cache: Map<string, Cached<T>>, key: string, load: () => Promise<T>, round: Round): Promise<Read<T>> {
    let entry = cache.get(key);
    if (!entry || !this.#usable(entry, round)) {
      if (cache.size > SWEEP_ABOVE) this.#sweep(cache);
      const created: Cached<T> = { at: this.#now(), value: load() };
      created.value.catch(() => {
        if (cache.get(key) === created) cache.delete(key);
      });
      cache.set(key, created);
      entry = created;
    }
    return this.#settle(entry, round);
  }

  #sweep<T>(cache: Map<string, Cached<T>>): void {
    const horizon = this.#now() - this.#maxAgeMs;
    for (const [key, entry] of cache) if (entry.at < horizon) cache.delete(key);
  }
}

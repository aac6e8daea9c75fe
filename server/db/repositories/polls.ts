import { and, asc, desc, eq, inArray, sql } from 'drizzle-orm';
import type { Orm } from '../database.ts';
import { polls, pollVotes } from '../schema.ts';

export type Poll = typeof polls.$inferSelect;
/** A poll with the number of votes for each option. */
export type PollEntry = Poll & { counts: number[] };

export type PollVoteOutcome = 'voted' | 'already' | 'closed' | 'missing' | 'option';

/** Hosts' single-choice polls and one vote per participant. */
export class PollRepository {
  readonly #db: Orm;
  constructor(db: Orm) {
    this.#db = db;
  }

  async create(roomId: string, createdBy: string, question: string, options: string[]): Promise<Poll> {
    const [row] = await this.#db.insert(polls).values({ roomId, createdBy, question, options }).returning();
    return row as Poll;
  }

  async #counts(poll: Poll): Promise<PollEntry> {
    const rows = await this.#db
      .select({ option: pollVotes.option, count: sql<number>`count(*)::int`.mapWith(Number) })
      .from(pollVotes)
      .where(eq(pollVotes.pollId, poll.id))
      .groupBy(pollVotes.option);
    const counts = poll.options.map(() => 0);
    for (const row of rows) if (row.option < counts.length) counts[row.option] = row.count;
    return { ...poll, counts };
  }

  async get(roomId: string, id: number): Promise<PollEntry | undefined> {
    const [row] = await this.#db.select().from(polls).where(and(eq(polls.roomId, roomId), eq(polls.id, id)));
    return row ? this.#counts(row) : undefined;
  }

  /** The room's latest polls, newest first. */
  async recent(roomId: string, limit = 20): Promise<PollEntry[]> {
    const rows = await this.#db.select().from(polls).where(eq(polls.roomId, roomId)).orderBy(desc(polls.id)).limit(limit);
    return Promise.all(rows.map((row) => this.#counts(row)));
  }

  /** Every poll of the room, oldest first (for an export). */
  async all(roomId: string): Promise<PollEntry[]> {
    const rows = await this.#db.select().from(polls).where(eq(polls.roomId, roomId)).orderBy(asc(polls.id));
    return Promise.all(rows.map((row) => this.#counts(row)));
  }

  /** One vote per participant, on an open poll of this room, for one of its options. */
  async vote(roomId: string, pollId: number, userId: string, option: number): Promise<PollVoteOutcome> {
    return this.#db.transaction(async (tx) => {
      // The row lock orders a vote against a close of the same poll.
      const [poll] = await tx.select().from(polls).where(and(eq(polls.roomId, roomId), eq(polls.id, pollId))).for('share');
      if (!poll) return 'missing';
      if (poll.state !== 'open') return 'closed';
      if (option < 0 || option >= poll.options.length) return 'option';
      const inserted = await tx.insert(pollVotes).values({ pollId, userId, option }).onConflictDoNothing().returning({ userId: pollVotes.userId });
      return inserted.length === 1 ? 'voted' : 'already';
    });
  }

  /** The option this participant chose in each of these polls. */
  async choices(userId: string, pollIds: number[]): Promise<Map<number, number>> {
    if (pollIds.length === 0) return new Map();
    const rows = await this.#db
      .select({ pollId: pollVotes.pollId, option: pollVotes.option })
      .from(pollVotes)
      .where(and(eq(pollVotes.userId, userId), inArray(pollVotes.pollId, pollIds)));
    return new Map(rows.map((r) => [r.pollId, r.option]));
  }

  /** Closes an open poll; false if it is not in this room or already closed. */
  async close(roomId: string, id: number): Promise<boolean> {
    const rows = await this.#db
      .update(polls)
      .set({ state: 'closed', closedAt: new Date() })
      .where(and(eq(polls.roomId, roomId), eq(polls.id, id), eq(polls.state, 'open')))
      .returning({ id: polls.id });
    return rows.length === 1;
  }

  async share(roomId: string, id: number, shared: boolean): Promise<boolean> {
    const rows = await this.#db.update(polls).set({ shared }).where(and(eq(polls.roomId, roomId), eq(polls.id, id))).returning({ id: polls.id });
    return rows.length === 1;
  }
}

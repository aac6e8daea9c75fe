import { and, asc, desc, eq, inArray, sql } from 'drizzle-orm';
import type { Orm } from '../database.ts';
import { questions, questionVotes, users } from '../schema.ts';

export type Question = typeof questions.$inferSelect;
/** A question with its author's name and its number of votes. */
export type QuestionEntry = Question & { name: string; votes: number };

export type VoteOutcome = 'voted' | 'already' | 'own' | 'missing';

const votes = sql<number>`(select count(*)::int from ${questionVotes} where ${questionVotes.questionId} = ${questions.id})`.mapWith(Number);

/** Students' questions to the hosts, and their upvotes. */
export class QuestionRepository {
  readonly #db: Orm;
  constructor(db: Orm) {
    this.#db = db;
  }

  async ask(roomId: string, userId: string, body: string, anonymous: boolean): Promise<Question> {
    const [row] = await this.#db.insert(questions).values({ roomId, userId, body, anonymous }).returning();
    return row as Question;
  }

  #select() {
    return this.#db.select({ question: questions, name: users.name, votes }).from(questions).innerJoin(users, eq(users.id, questions.userId));
  }

  async get(roomId: string, id: number): Promise<QuestionEntry | undefined> {
    const [row] = await this.#select().where(and(eq(questions.roomId, roomId), eq(questions.id, id)));
    return row ? { ...row.question, name: row.name, votes: row.votes } : undefined;
  }

  /** The room's questions as they are shown: pinned first, then open before answered, then by votes, then oldest first. */
  async list(roomId: string, limit = 500): Promise<QuestionEntry[]> {
    const rows = await this.#select()
      .where(eq(questions.roomId, roomId))
      .orderBy(desc(questions.pinned), asc(questions.state), desc(votes), asc(questions.id))
      .limit(limit);
    return rows.map((r) => ({ ...r.question, name: r.name, votes: r.votes }));
  }

  /** One vote per participant; nobody votes for their own question. */
  async vote(roomId: string, questionId: number, userId: string): Promise<VoteOutcome> {
    const [question] = await this.#db.select({ userId: questions.userId }).from(questions).where(and(eq(questions.roomId, roomId), eq(questions.id, questionId)));
    if (!question) return 'missing';
    if (question.userId === userId) return 'own';
    const inserted = await this.#db.insert(questionVotes).values({ questionId, userId }).onConflictDoNothing().returning({ userId: questionVotes.userId });
    return inserted.length === 1 ? 'voted' : 'already';
  }

  /** Which of these questions the participant voted for. */
  async votedBy(userId: string, questionIds: number[]): Promise<number[]> {
    if (questionIds.length === 0) return [];
    const rows = await this.#db
      .select({ id: questionVotes.questionId })
      .from(questionVotes)
      .where(and(eq(questionVotes.userId, userId), inArray(questionVotes.questionId, questionIds)));
    return rows.map((r) => r.id);
  }

  /** Marks a question answered (or open again); false if it is not in this room. */
  async setAnswered(roomId: string, id: number, answered: boolean): Promise<boolean> {
    const rows = await this.#db
      .update(questions)
      .set({ state: answered ? 'answered' : 'open', answeredAt: answered ? new Date() : null })
      .where(and(eq(questions.roomId, roomId), eq(questions.id, id)))
      .returning({ id: questions.id });
    return rows.length === 1;
  }

  async setPinned(roomId: string, id: number, pinned: boolean): Promise<boolean> {
    const rows = await this.#db.update(questions).set({ pinned }).where(and(eq(questions.roomId, roomId), eq(questions.id, id))).returning({ id: questions.id });
    return rows.length === 1;
  }

  /** Every question of the room, oldest first (for an export). */
  async all(roomId: string): Promise<QuestionEntry[]> {
    const rows = await this.#select().where(eq(questions.roomId, roomId)).orderBy(asc(questions.id));
    return rows.map((r) => ({ ...r.question, name: r.name, votes: r.votes }));
  }
}

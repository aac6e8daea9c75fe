import { and, desc, eq, lt, ne } from 'drizzle-orm';
import type { Orm } from '../database.ts';
import { recordings, rooms } from '../schema.ts';

export type Recording = typeof recordings.$inferSelect;

export class RecordingRepository {
  readonly #db: Orm;
  constructor(db: Orm) {
    this.#db = db;
  }

  async start(roomId: string, title: string, path: string): Promise<Recording> {
    const [row] = await this.#db.insert(recordings).values({ roomId, title, path }).returning();
    return row as Recording;
  }

  async finish(
    id: string,
    outcome: { status: 'ready' | 'interrupted' | 'failed'; durationMs: number; sizeBytes: number; failureReason?: string },
  ): Promise<Recording | undefined> {
    const [row] = await this.#db
      .update(recordings)
      .set({ ...outcome, failureReason: outcome.failureReason ?? null, endedAt: new Date() })
      .where(eq(recordings.id, id))
      .returning();
    return row;
  }

  /** Recordings still marked as running: after a crash these are the ones to close. */
  async listUnfinished(): Promise<Recording[]> {
    return this.#db.select().from(recordings).where(eq(recordings.status, 'recording'));
  }

  async get(id: string): Promise<Recording | undefined> {
    const [row] = await this.#db.select().from(recordings).where(eq(recordings.id, id));
    return row;
  }

  async rename(id: string, title: string): Promise<Recording | undefined> {
    const [row] = await this.#db.update(recordings).set({ title }).where(eq(recordings.id, id)).returning();
    return row;
  }

  async remove(id: string): Promise<Recording | undefined> {
    const [row] = await this.#db.delete(recordings).where(eq(recordings.id, id)).returning();
    return row;
  }

  /** Finished recordings that started before `before` (for retention). */
  async listStartedBefore(before: Date): Promise<Recording[]> {
    return this.#db.select().from(recordings).where(and(lt(recordings.startedAt, before), ne(recordings.status, 'recording')));
  }

  async listForCourse(courseId: string): Promise<Recording[]> {
    const rows = await this.#db
      .select({ recording: recordings })
      .from(recordings)
      .innerJoin(rooms, eq(rooms.id, recordings.roomId))
      .where(eq(rooms.courseId, courseId))
      .orderBy(desc(recordings.startedAt));
    return rows.map((r) => r.recording);
  }
}

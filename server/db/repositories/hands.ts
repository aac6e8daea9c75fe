import { and, asc, eq } from 'drizzle-orm';
import type { Orm } from '../database.ts';
import { hands, stage, users } from '../schema.ts';

/** A raised hand, in the queue's order. */
export interface RaisedHand {
  userId: string;
  name: string;
  raisedAt: Date;
}

/** The room's raised hands, in the order they were raised. Kept in the database so every node sees one queue. */
export class HandRepository {
  readonly #db: Orm;
  constructor(db: Orm) {
    this.#db = db;
  }

  /** Raises a hand; a hand already up keeps its place. */
  async raise(roomId: string, userId: string): Promise<void> {
    await this.#db.insert(hands).values({ roomId, userId }).onConflictDoNothing();
  }

  /** True when the hand was up. */
  async lower(roomId: string, userId: string): Promise<boolean> {
    const rows = await this.#db.delete(hands).where(and(eq(hands.roomId, roomId), eq(hands.userId, userId))).returning({ userId: hands.userId });
    return rows.length > 0;
  }

  async queue(roomId: string): Promise<RaisedHand[]> {
    return this.#db
      .select({ userId: hands.userId, name: users.name, raisedAt: hands.raisedAt })
      .from(hands)
      .innerJoin(users, eq(users.id, hands.userId))
      .where(eq(hands.roomId, roomId))
      .orderBy(asc(hands.id));
  }

  async clear(roomId: string): Promise<void> {
    await this.#db.delete(hands).where(eq(hands.roomId, roomId));
  }

  /** Who is on stage now (brought there by a host), in the order they came. */
  async onStage(roomId: string): Promise<Array<{ userId: string; name: string }>> {
    return this.#db
      .select({ userId: stage.userId, name: users.name })
      .from(stage)
      .innerJoin(users, eq(users.id, stage.userId))
      .where(eq(stage.roomId, roomId))
      .orderBy(asc(stage.addedAt));
  }
}

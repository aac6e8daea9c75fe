import { and, desc, eq, gte } from 'drizzle-orm';
import type { Orm } from '../database.ts';
import { accessDecisions, rooms, users } from '../schema.ts';

export type AccessDecision = typeof accessDecisions.$inferSelect;
export type Grant = AccessDecision['grant'];

export interface Refusal {
  userId: string;
  name: string;
  roomId: string;
  roomTitle: string;
  reason: string;
  source: string;
  decidedAt: Date;
}

export class AccessDecisionRepository {
  readonly #db: Orm;
  constructor(db: Orm) {
    this.#db = db;
  }

  async record(decision: Pick<AccessDecision, 'roomId' | 'userId' | 'grant' | 'reason' | 'source'>): Promise<AccessDecision> {
    const [row] = await this.#db.insert(accessDecisions).values(decision).returning();
    return row as AccessDecision;
  }

  /** One person's decisions in a room, newest first. */
  async listForUser(roomId: string, userId: string, limit = 50): Promise<AccessDecision[]> {
    return this.#db
      .select()
      .from(accessDecisions)
      .where(and(eq(accessDecisions.roomId, roomId), eq(accessDecisions.userId, userId)))
      .orderBy(desc(accessDecisions.decidedAt), desc(accessDecisions.id))
      .limit(limit);
  }

  /** Who was refused, newest first, for one room or (with `courseId`) every room of a course. */
  async listRefusals(scope: { roomId: string } | { courseId: string }, since = new Date(0), limit = 500): Promise<Refusal[]> {
    const where = and(
      eq(accessDecisions.grant, 'denied'),
      gte(accessDecisions.decidedAt, since),
      'roomId' in scope ? eq(accessDecisions.roomId, scope.roomId) : eq(rooms.courseId, scope.courseId),
    );
    return this.#db
      .select({
        userId: accessDecisions.userId,
        name: users.name,
        roomId: accessDecisions.roomId,
        roomTitle: rooms.title,
        reason: accessDecisions.reason,
        source: accessDecisions.source,
        decidedAt: accessDecisions.decidedAt,
      })
      .from(accessDecisions)
      .innerJoin(users, eq(users.id, accessDecisions.userId))
      .innerJoin(rooms, eq(rooms.id, accessDecisions.roomId))
      .where(where)
      .orderBy(desc(accessDecisions.decidedAt), desc(accessDecisions.id))
      .limit(limit);
  }
}

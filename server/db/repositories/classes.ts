import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import type { Orm } from '../database.ts';
import { attendance, classSessions, stage } from '../schema.ts';

export type ClassSession = typeof classSessions.$inferSelect;

/** One participant's time in a class, as closed intervals (open ones end at the class's end). */
export interface Presence {
  userId: string;
  intervals: Array<{ joinedAt: Date; leftAt: Date | null }>;
}

/** Who a host brought on stage. Kept in the database so every node of a deployment agrees. */
export class StageRepository {
  readonly #db: Orm;
  constructor(db: Orm) {
    this.#db = db;
  }

  async add(roomId: string, userId: string, addedBy: string): Promise<void> {
    await this.#db.insert(stage).values({ roomId, userId, addedBy }).onConflictDoNothing();
  }

  /** True when the user was on stage. */
  async remove(roomId: string, userId: string): Promise<boolean> {
    const removed = await this.#db.delete(stage).where(and(eq(stage.roomId, roomId), eq(stage.userId, userId))).returning({ userId: stage.userId });
    return removed.length > 0;
  }

  async has(roomId: string, userId: string): Promise<boolean> {
    const [row] = await this.#db.select({ userId: stage.userId }).from(stage).where(and(eq(stage.roomId, roomId), eq(stage.userId, userId)));
    return row !== undefined;
  }

  async clear(roomId: string): Promise<void> {
    await this.#db.delete(stage).where(eq(stage.roomId, roomId));
  }
}

/** Live classes of a room and who was present when. */
export class ClassSessionRepository {
  readonly #db: Orm;
  constructor(db: Orm) {
    this.#db = db;
  }

  /** The room's class in progress, if any. */
  async current(roomId: string): Promise<ClassSession | undefined> {
    const [row] = await this.#db
      .select()
      .from(classSessions)
      .where(and(eq(classSessions.roomId, roomId), isNull(classSessions.endedAt)))
      .orderBy(asc(classSessions.startedAt))
      .limit(1);
    return row;
  }

  /**
   * Starts a class, or answers the one already in progress (two hosts pressing "Go live" get one
   * class); `fresh` tells which.
   */
  async start(roomId: string, at = new Date()): Promise<ClassSession & { fresh: boolean }> {
    const [row] = await this.#db
      .insert(classSessions)
      .values({ roomId, startedAt: at })
      .onConflictDoNothing({ target: classSessions.roomId, where: sql`${classSessions.endedAt} is null` })
      .returning();
    return row ? { ...row, fresh: true } : { ...((await this.current(roomId)) as ClassSession), fresh: false };
  }

  /** Ends the class and closes every open presence at the same instant. */
  async end(sessionId: string, at = new Date()): Promise<ClassSession | undefined> {
    return this.#db.transaction(async (tx) => {
      await tx.update(attendance).set({ leftAt: at }).where(and(eq(attendance.sessionId, sessionId), isNull(attendance.leftAt)));
      const [row] = await tx
        .update(classSessions)
        .set({ endedAt: at })
        .where(and(eq(classSessions.id, sessionId), isNull(classSessions.endedAt)))
        .returning();
      return row;
    });
  }

  /** Marks whether the class in progress in the room is being recorded (see class_sessions.recording). */
  async setRecording(roomId: string, recording: boolean): Promise<void> {
    await this.#db
      .update(classSessions)
      .set({ recording })
      .where(and(eq(classSessions.roomId, roomId), isNull(classSessions.endedAt)));
  }

  async get(sessionId: string): Promise<ClassSession | undefined> {
    const [row] = await this.#db.select().from(classSessions).where(eq(classSessions.id, sessionId));
    return row;
  }

  async joined(sessionId: string, userId: string, at = new Date()): Promise<number> {
    const [row] = await this.#db.insert(attendance).values({ sessionId, userId, joinedAt: at }).returning({ id: attendance.id });
    return (row as { id: number }).id;
  }

  async left(presenceId: number, at = new Date()): Promise<void> {
    await this.#db.update(attendance).set({ leftAt: at }).where(and(eq(attendance.id, presenceId), isNull(attendance.leftAt)));
  }

  async presence(sessionId: string): Promise<Presence[]> {
    const rows = await this.#db
      .select({ userId: attendance.userId, joinedAt: attendance.joinedAt, leftAt: attendance.leftAt })
      .from(attendance)
      .where(eq(attendance.sessionId, sessionId))
      .orderBy(asc(attendance.userId), asc(attendance.joinedAt));
    const byUser = new Map<string, Presence>();
    for (const row of rows) {
      let entry = byUser.get(row.userId);
      if (!entry) byUser.set(row.userId, (entry = { userId: row.userId, intervals: [] }));
      entry.intervals.push({ joinedAt: row.joinedAt, leftAt: row.leftAt });
    }
    return [...byUser.values()];
  }

  async attendanceReported(sessionId: string, problem: string | null): Promise<void> {
    await this.#db
      .update(classSessions)
      .set(problem === null ? { attendanceSentAt: sql`now()`, attendanceProblem: null } : { attendanceProblem: problem })
      .where(eq(classSessions.id, sessionId));
  }
}

import { and, eq, sql } from 'drizzle-orm';
import type { Orm } from '../database.ts';
import { memberships, users } from '../schema.ts';

export type User = typeof users.$inferSelect;
export type Membership = typeof memberships.$inferSelect;
export type MembershipStatus = Membership['status'];

export interface UserFacts {
  name: string;
  email?: string | null;
  locale?: string | null;
}

export class UserRepository {
  readonly #db: Orm;
  constructor(db: Orm) {
    this.#db = db;
  }

  /** Creates the user on first launch and keeps name, email and locale as the platform last sent them. */
  async upsert(issuer: string, subject: string, facts: UserFacts): Promise<User> {
    const values = { name: facts.name, email: facts.email ?? null, locale: facts.locale ?? null };
    const [row] = await this.#db
      .insert(users)
      .values({ issuer, subject, ...values })
      .onConflictDoUpdate({ target: [users.issuer, users.subject], set: { ...values, updatedAt: sql`now()` } })
      .returning();
    return row as User;
  }

  async get(userId: string): Promise<User | undefined> {
    const [row] = await this.#db.select().from(users).where(eq(users.id, userId));
    return row;
  }
}

export class MembershipRepository {
  readonly #db: Orm;
  constructor(db: Orm) {
    this.#db = db;
  }

  async set(courseId: string, userId: string, facts: { roles: string[]; status: MembershipStatus; source: 'launch' | 'nrps' }): Promise<Membership> {
    const [row] = await this.#db
      .insert(memberships)
      .values({ courseId, userId, ...facts })
      .onConflictDoUpdate({
        target: [memberships.courseId, memberships.userId],
        set: { ...facts, updatedAt: sql`now()` },
      })
      .returning();
    return row as Membership;
  }

  /** Notes that the LMS confirmed this member paid, for the grace period while the LMS is down. */
  async markPaid(courseId: string, userId: string, fraction: number, at = new Date()): Promise<void> {
    await this.#db
      .update(memberships)
      .set({ paidVerifiedAt: at, paidFraction: fraction })
      .where(and(eq(memberships.courseId, courseId), eq(memberships.userId, userId)));
  }

  async get(courseId: string, userId: string): Promise<Membership | undefined> {
    const [row] = await this.#db
      .select()
      .from(memberships)
      .where(and(eq(memberships.courseId, courseId), eq(memberships.userId, userId)));
    return row;
  }
}

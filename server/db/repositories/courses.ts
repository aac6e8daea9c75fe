import { and, eq, sql } from 'drizzle-orm';
import type { Orm } from '../database.ts';
import { courses, rooms } from '../schema.ts';

export type Course = typeof courses.$inferSelect;
export type Room = typeof rooms.$inferSelect;

export interface CourseKey {
  issuer: string;
  deploymentId: string;
  contextId: string;
}

export interface RoomPlacement {
  resourceLinkId: string;
  title: string;
}

export type RoomSettings = Partial<Pick<Room, 'title' | 'policy' | 'paidThreshold' | 'scheduledStart' | 'durationMinutes' | 'attendanceEnabled' | 'seatLimit' | 'autoRecord'>>;

/** What a launch tells about the platform's services for this course. */
export type CourseServices = Pick<Course, 'clientId' | 'nrpsUrl' | 'agsLineItemsUrl' | 'agsScopes'>;
export type CourseSettings = Partial<Pick<Course, 'paymentRequired' | 'paidThreshold'>>;

export class CourseRepository {
  readonly #db: Orm;
  constructor(db: Orm) {
    this.#db = db;
  }

  /**
   * Creates the course on first sight and keeps its title, label and service URLs current. Service
   * URLs are only replaced by a launch that carries them: a launch without NRPS keeps the last known.
   */
  async upsert(key: CourseKey, facts: { title: string; label?: string | null; services?: Partial<CourseServices> }): Promise<Course> {
    const services = Object.fromEntries(Object.entries(facts.services ?? {}).filter(([, v]) => v !== undefined && v !== null));
    const [row] = await this.#db
      .insert(courses)
      .values({ ...key, title: facts.title, label: facts.label ?? null, ...services })
      .onConflictDoUpdate({
        target: [courses.issuer, courses.deploymentId, courses.contextId],
        set: { title: facts.title, label: facts.label ?? null, ...services, updatedAt: sql`now()` },
      })
      .returning();
    return row as Course;
  }

  async get(courseId: string): Promise<Course | undefined> {
    const [row] = await this.#db.select().from(courses).where(eq(courses.id, courseId));
    return row;
  }

  async update(courseId: string, settings: CourseSettings & Partial<Pick<Course, 'paidLineItemUrl'>>): Promise<Course | undefined> {
    const [row] = await this.#db
      .update(courses)
      .set({ ...settings, updatedAt: sql`now()` })
      .where(eq(courses.id, courseId))
      .returning();
    return row;
  }

  async find(key: CourseKey): Promise<Course | undefined> {
    const [row] = await this.#db
      .select()
      .from(courses)
      .where(and(eq(courses.issuer, key.issuer), eq(courses.deploymentId, key.deploymentId), eq(courses.contextId, key.contextId)));
    return row;
  }

  async delete(courseId: string): Promise<void> {
    await this.#db.delete(courses).where(eq(courses.id, courseId));
  }
}

export class RoomRepository {
  readonly #db: Orm;
  constructor(db: Orm) {
    this.#db = db;
  }

  /**
   * Finds the room of a resource link, creating it on first launch. The title given here only
   * names a new room: a room's settings are changed through `update`, not by relaunching.
   */
  async ensure(courseId: string, placement: RoomPlacement, settings: RoomSettings = {}): Promise<Room> {
    // Every launch but the first finds the room: look first, create only when it is missing.
    const find = async () =>
      (await this.#db.select().from(rooms).where(and(eq(rooms.courseId, courseId), eq(rooms.resourceLinkId, placement.resourceLinkId))))[0];
    const existing = await find();
    if (existing) return existing;
    const [created] = await this.#db
      .insert(rooms)
      .values({ courseId, resourceLinkId: placement.resourceLinkId, ...settings, title: settings.title ?? placement.title })
      .onConflictDoNothing({ target: [rooms.courseId, rooms.resourceLinkId] })
      .returning();
    // Created meanwhile by a launch at the same instant.
    return created ?? ((await find()) as Room);
  }

  async get(roomId: string): Promise<Room | undefined> {
    const [row] = await this.#db.select().from(rooms).where(eq(rooms.id, roomId));
    return row;
  }

  async listForCourse(courseId: string): Promise<Room[]> {
    return this.#db.select().from(rooms).where(eq(rooms.courseId, courseId)).orderBy(rooms.createdAt);
  }

  async update(roomId: string, settings: RoomSettings & Partial<Pick<Room, 'status' | 'attendanceLineItemUrl'>>): Promise<Room | undefined> {
    const [row] = await this.#db
      .update(rooms)
      .set({ ...settings, updatedAt: sql`now()` })
      .where(eq(rooms.id, roomId))
      .returning();
    return row;
  }
}

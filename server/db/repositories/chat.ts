import { and, asc, desc, eq, gt, gte, isNotNull, isNull, or } from 'drizzle-orm';
import type { Orm } from '../database.ts';
import { chatMessages, chatMutes, users } from '../schema.ts';

export type ChatMessage = typeof chatMessages.$inferSelect;
/** A message with its author's name, as the room sees it. */
export type ChatEntry = ChatMessage & { name: string };
export type ChatRole = ChatMessage['role'];

/** Who may not chat: the whole room, and participants one by one. */
export interface ChatMutes {
  room: boolean;
  users: string[];
}

const entryColumns = {
  id: chatMessages.id,
  roomId: chatMessages.roomId,
  userId: chatMessages.userId,
  body: chatMessages.body,
  role: chatMessages.role,
  createdAt: chatMessages.createdAt,
  deletedAt: chatMessages.deletedAt,
  deletedBy: chatMessages.deletedBy,
  name: users.name,
};

export class ChatRepository {
  readonly #db: Orm;
  constructor(db: Orm) {
    this.#db = db;
  }

  async append(roomId: string, userId: string, body: string, role: ChatRole = 'attendee'): Promise<ChatMessage> {
    const [row] = await this.#db.insert(chatMessages).values({ roomId, userId, body, role }).returning();
    return row as ChatMessage;
  }

  /** The last `limit` visible messages in the order they were sent, or those after `afterId` (a reconnect). */
  async history(roomId: string, options: { limit?: number; afterId?: number } = {}): Promise<ChatEntry[]> {
    const rows = await this.#db
      .select(entryColumns)
      .from(chatMessages)
      .innerJoin(users, eq(users.id, chatMessages.userId))
      .where(
        and(
          eq(chatMessages.roomId, roomId),
          isNull(chatMessages.deletedAt),
          options.afterId === undefined ? undefined : gt(chatMessages.id, options.afterId),
        ),
      )
      .orderBy(options.afterId === undefined ? desc(chatMessages.id) : asc(chatMessages.id))
      .limit(options.limit ?? 200);
    return options.afterId === undefined ? rows.reverse() : rows;
  }

  /** Ids of messages deleted from `fromId` on, so a reconnecting client can drop them too. */
  async deletedFrom(roomId: string, fromId: number): Promise<number[]> {
    const rows = await this.#db
      .select({ id: chatMessages.id })
      .from(chatMessages)
      .where(and(eq(chatMessages.roomId, roomId), gte(chatMessages.id, fromId), isNotNull(chatMessages.deletedAt)))
      .orderBy(asc(chatMessages.id))
      .limit(1000);
    return rows.map((r) => r.id);
  }

  /** Every message of the room, deleted ones too, oldest first (for an export). */
  async all(roomId: string): Promise<ChatEntry[]> {
    return this.#db.select(entryColumns).from(chatMessages).innerJoin(users, eq(users.id, chatMessages.userId)).where(eq(chatMessages.roomId, roomId)).orderBy(asc(chatMessages.id));
  }

  /** Hides a message for everyone; returns false if it is not in that room or already deleted. */
  async delete(roomId: string, messageId: number, deletedBy: string): Promise<boolean> {
    const rows = await this.#db
      .update(chatMessages)
      .set({ deletedAt: new Date(), deletedBy })
      .where(and(eq(chatMessages.id, messageId), eq(chatMessages.roomId, roomId), isNull(chatMessages.deletedAt)))
      .returning({ id: chatMessages.id });
    return rows.length === 1;
  }

  /** Mutes one participant, or the whole room (`userId` null). */
  async mute(roomId: string, userId: string | null, mutedBy: string): Promise<void> {
    await this.#db.insert(chatMutes).values({ roomId, userId, mutedBy }).onConflictDoNothing();
  }

  async unmute(roomId: string, userId: string | null): Promise<void> {
    await this.#db.delete(chatMutes).where(and(eq(chatMutes.roomId, roomId), userId === null ? isNull(chatMutes.userId) : eq(chatMutes.userId, userId)));
  }

  async mutes(roomId: string): Promise<ChatMutes> {
    const rows = await this.#db.select({ userId: chatMutes.userId }).from(chatMutes).where(eq(chatMutes.roomId, roomId));
    return { room: rows.some((r) => r.userId === null), users: rows.flatMap((r) => (r.userId === null ? [] : [r.userId])) };
  }

  /** Whether this participant may not chat: 'room' (everyone muted), 'user' (them), or undefined. */
  async mutedFor(roomId: string, userId: string): Promise<'room' | 'user' | undefined> {
    const rows = await this.#db
      .select({ userId: chatMutes.userId })
      .from(chatMutes)
      .where(and(eq(chatMutes.roomId, roomId), or(isNull(chatMutes.userId), eq(chatMutes.userId, userId))));
    if (rows.some((r) => r.userId !== null)) return 'user';
    return rows.length > 0 ? 'room' : undefined;
  }
}

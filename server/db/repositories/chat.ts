import { and, desc, eq, gt, isNull } from 'drizzle-orm';
import type { Orm } from '../database.ts';
import { chatMessages } from '../schema.ts';

export type ChatMessage = typeof chatMessages.$inferSelect;

export class ChatRepository {
  readonly #db: Orm;
  constructor(db: Orm) {
    this.#db = db;
  }

  async append(roomId: string, userId: string, body: string): Promise<ChatMessage> {
    const [row] = await this.#db.insert(chatMessages).values({ roomId, userId, body }).returning();
    return row as ChatMessage;
  }

  /** The last `limit` visible messages in the order they were sent, or those after `afterId` (a reconnect). */
  async history(roomId: string, options: { limit?: number; afterId?: number } = {}): Promise<ChatMessage[]> {
    const rows = await this.#db
      .select()
      .from(chatMessages)
      .where(
        and(
          eq(chatMessages.roomId, roomId),
          isNull(chatMessages.deletedAt),
          options.afterId === undefined ? undefined : gt(chatMessages.id, options.afterId),
        ),
      )
      .orderBy(desc(chatMessages.id))
      .limit(options.limit ?? 200);
    return rows.reverse();
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
}

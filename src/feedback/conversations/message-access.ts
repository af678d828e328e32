// Who may touch a message: the owner of its conversation. Ownership never changes, so answers are
// cached per process; the ingestion hot path checks hundreds of events without a query each.
import type { Db } from '../../platform/db/client.ts';
import { canReadAnyConversation, type Principal } from '../../platform/auth/principal.ts';
import { notFound } from '../../platform/errors/app-error.ts';

export interface MessageOwner {
  conversationId: string;
  ownerId: string;
}

const CACHE_MAX = 100_000;

export class MessageAccess {
  private readonly owners = new Map<string, MessageOwner>();

  constructor(private readonly db: Db) {}

  /** Owners of the given messages; ids that do not exist are absent from the map. */
  async ownersOf(messageIds: Iterable<string>): Promise<Map<string, MessageOwner>> {
    const result = new Map<string, MessageOwner>();
    const missing: string[] = [];
    for (const id of new Set(messageIds)) {
      const hit = this.owners.get(id);
      if (hit) result.set(id, hit);
      else missing.push(id);
    }
    if (missing.length) {
      const rows = await this.db.message.findMany({
        where: { id: { in: missing } },
        select: { id: true, conversationId: true, conversation: { select: { userId: true } } },
      });
      if (this.owners.size + rows.length > CACHE_MAX) this.owners.clear();
      for (const row of rows) {
        const owner = { conversationId: row.conversationId, ownerId: row.conversation.userId };
        this.owners.set(row.id, owner);
        result.set(row.id, owner);
      }
    }
    return result;
  }

  /**
   * The message's owner, if `principal` may give feedback on it (only on messages in their own
   * conversations). Someone else's message is reported as not found, so ids do not leak.
   */
  async assertCanRate(principal: Principal, messageId: string): Promise<MessageOwner> {
    const owner = (await this.ownersOf([messageId])).get(messageId);
    if (!owner || owner.ownerId !== principal.userId) throw notFound('Message');
    return owner;
  }

  /** Readers: the owner, or a moderator, ops or admin reviewing it. */
  async assertCanRead(principal: Principal, messageId: string): Promise<MessageOwner> {
    const owner = (await this.ownersOf([messageId])).get(messageId);
    if (!owner) throw notFound('Message');
    if (owner.ownerId !== principal.userId && !canReadAnyConversation(principal.role))
      throw notFound('Message');
    return owner;
  }

  /** Forgets a message (after it is deleted). */
  forget(messageId: string): void {
    this.owners.delete(messageId);
  }
}

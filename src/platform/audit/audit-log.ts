// The audit log: who did what to which thing. Written in the same transaction as the change.
import type { Db } from '../db/client.ts';
import type { Prisma } from '../../generated/prisma/client.ts';

export interface AuditEntry {
  actorId: string | null;
  action: string;
  target: string;
  details?: Prisma.InputJsonValue;
}

export async function recordAudit(db: Db, entry: AuditEntry): Promise<void> {
  await db.auditLogEntry.create({
    data: {
      actorId: entry.actorId,
      action: entry.action,
      target: entry.target,
      details: entry.details ?? {},
    },
  });
}

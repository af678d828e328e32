// Ingesting a batch of implicit events for one user: validate each event on its own, keep those
// about the user's own messages, drop repeats within the batch, and store the rest through the
// group-commit writer. Answers only after the rows are committed.
import type { MessageAccess } from '../chat/message-access.ts';
import type { EventRow, EventWriter } from './event-writer.ts';
import {
  implicitEventInput,
  type EventError,
  type ImplicitEventInput,
  type IngestResult,
} from './schemas.ts';

export interface IngestDeps {
  messageAccess: MessageAccess;
  writer: EventWriter;
}

const NOT_YOURS = 'must be the id of a message in one of your conversations';

/** Validates `events[index]`; on failure appends its errors (paths like `events.3.messageId`). */
function parseEvent(raw: unknown, index: number, errors: EventError[]): ImplicitEventInput | undefined {
  const parsed = implicitEventInput.safeParse(raw);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) {
    const base = ['events', index, ...issue.path.map(String)].join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        errors.push({ index, path: `${base}.${key}`, message: 'is not a known field' });
    } else {
      errors.push({ index, path: base, message: issue.message });
    }
  }
  return undefined;
}

export async function ingestEvents(
  deps: IngestDeps,
  userId: string,
  events: unknown[],
): Promise<IngestResult> {
  const errors: EventError[] = [];
  const valid: { index: number; event: ImplicitEventInput }[] = [];
  for (let index = 0; index < events.length; index++) {
    const event = parseEvent(events[index], index, errors);
    if (event) valid.push({ index, event });
  }
  let rejected = events.length - valid.length;

  // Someone else's message and a message that does not exist get the same answer: ids do not leak.
  const owners = valid.length ? await deps.messageAccess.ownersOf(valid.map((v) => v.event.messageId)) : null;
  const rows: EventRow[] = [];
  const seen = new Set<string>();
  let duplicates = 0;
  for (const { index, event } of valid) {
    if (owners?.get(event.messageId)?.ownerId !== userId) {
      errors.push({ index, path: `events.${index}.messageId`, message: NOT_YOURS });
      rejected += 1;
    } else if (seen.has(event.id)) {
      duplicates += 1;
    } else {
      seen.add(event.id);
      rows.push({
        id: event.id,
        type: event.type,
        messageId: event.messageId,
        userId,
        value: event.value ?? null,
        clientTs: event.ts,
      });
    }
  }

  const written = await deps.writer.write(rows);
  return { accepted: written.accepted, duplicates: duplicates + written.duplicates, rejected, errors };
}

// Ingesting a batch of implicit events for one user: validate each event on its own, keep those
// about the user's own messages, drop repeats within the batch, and store the rest through the
// group-commit writer. Answers only after the rows are committed.
import type { MessageAccess } from '../conversations/message-access.ts';
import type { EventRow, EventWriter } from './event-writer.ts';
import {
  clientTimestampText,
  implicitEventInput,
  type EventError,
  type ImplicitEventInput,
  type IngestResult,
} from '../../contract/events.ts';

export interface IngestDeps {
  messageAccess: MessageAccess;
  writer: EventWriter;
}

const NOT_YOURS = 'must be the id of a message in one of your conversations';

/** A valid event in canonical form: lower-case message id, timestamp as ISO text with a zone. */
type ValidEvent = Omit<ImplicitEventInput, 'ts'> & { clientTs: string };

/** Validates `events[index]`; on failure appends its errors (paths like `events.3.messageId`). */
function parseEvent(raw: unknown, index: number, errors: EventError[]): ValidEvent | undefined {
  const parsed = implicitEventInput.safeParse(raw);
  if (parsed.success) {
    const { id, type, messageId, value, ts } = parsed.data;
    return { id, type, messageId: messageId.toLowerCase(), value, clientTs: clientTimestampText(ts) };
  }
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
  const valid: { index: number; event: ValidEvent }[] = [];
  for (let index = 0; index < events.length; index++) {
    const event = parseEvent(events[index], index, errors);
    if (event) valid.push({ index, event });
  }
  let rejected = events.length - valid.length;

  // Someone else's message and a message that does not exist get the same answer: ids do not leak.
  const owners = valid.length ? await deps.messageAccess.ownersOf(valid.map((v) => v.event.messageId)) : null;
  const rows: EventRow[] = [];
  const rowSource = new Map<string, { index: number; messageId: string }>(); // event id -> the event written
  let duplicates = 0;
  for (const { index, event } of valid) {
    if (owners?.get(event.messageId)?.ownerId !== userId) {
      errors.push({ index, path: `events.${index}.messageId`, message: NOT_YOURS });
      rejected += 1;
    } else if (rowSource.has(event.id)) {
      duplicates += 1;
    } else {
      rowSource.set(event.id, { index, messageId: event.messageId });
      rows.push({
        id: event.id,
        type: event.type,
        messageId: event.messageId,
        userId,
        value: event.value ?? null,
        clientTs: event.clientTs,
      });
    }
  }

  const written = await deps.writer.write(rows);
  if (written.gone.length) {
    // Deleted after we cached its owner: the same answer as for any message that is not theirs.
    for (const id of written.gone) {
      const { index, messageId } = rowSource.get(id)!;
      deps.messageAccess.forget(messageId);
      errors.push({ index, path: `events.${index}.messageId`, message: NOT_YOURS });
    }
    rejected += written.gone.length;
  }
  errors.sort((a, b) => a.index - b.index); // stable: an event's own errors keep their order
  return { accepted: written.accepted, duplicates: duplicates + written.duplicates, rejected, errors };
}

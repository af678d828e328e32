// The payload of every loop stage: the run it belongs to. Everything else is read from the run row,
// so a retried or re-enqueued job always works on the run's current state.
import { z } from 'zod';

export const runPayload = z.strictObject({ runId: z.uuid() });
export type RunPayload = z.infer<typeof runPayload>;

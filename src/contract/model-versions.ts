// Request and response shapes for the model-version registry.
import { z } from 'zod';
import { isoDate, pageQuery, uuid } from './http.ts';

export const modelStatus = z.enum(['candidate', 'active', 'rejected', 'retired']);

export const modelName = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]*$/,
    'must be letters, digits, ".", "_" or "-", starting with a letter or digit',
  );

/** A folder inside MODEL_DIR, written relative to it; it may not climb out of it. */
export const modelPath = z
  .string()
  .trim()
  .min(1)
  .max(500)
  .refine(
    (p) => !p.startsWith('/') && !p.includes('\\') && p.split('/').every((s) => s !== '' && s !== '..'),
    'must be a relative folder inside MODEL_DIR (no leading "/", no "..", no empty segments)',
  );

export const registerModelBody = z.strictObject({
  name: modelName,
  path: modelPath,
  /** The version this one was fine-tuned from. */
  parentId: uuid.optional(),
  notes: z.string().trim().max(2_000).optional(),
});

export const activateModelBody = z.strictObject({
  reason: z.string().trim().min(1, 'must not be empty').max(2_000),
});

export const listModelsQuery = pageQuery.extend({ status: modelStatus.optional() });

export const modelVersionView = z.object({
  id: z.string(),
  name: z.string(),
  status: modelStatus,
  path: z.string(),
  parentId: z.string().nullable(),
  datasetId: z.string().nullable(),
  notes: z.string(),
  createdAt: isoDate,
  promotedAt: isoDate.nullable(),
});

export const modelVersionPage = z.object({
  modelVersions: z.array(modelVersionView),
  nextBefore: z.string().nullable(),
});

export const activationView = z.object({
  active: modelVersionView,
  /** The version that was active before, now retired; null if none was. */
  retired: modelVersionView.nullable(),
});

export const versionResponse = z.object({ version: modelVersionView });
export type ModelVersionView = z.output<typeof modelVersionView>;
export type ActivateModelBody = z.input<typeof activateModelBody>;

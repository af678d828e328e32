// Request and response shapes for the model-version registry.
import { z } from 'zod';
import { isoDate, nextCursor, pageQuery, uuid } from './http.ts';
import { samplingOptions } from './sampling.ts';

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
    (p) =>
      !p.startsWith('/') &&
      !p.includes('\\') &&
      p.split('/').every((s) => s !== '' && s !== '..' && s !== '.'),
    'must be a relative folder inside MODEL_DIR (no leading "/", no "." or "..", no empty segments)',
  );

export const registerModelBody = z.strictObject({
  name: modelName,
  path: modelPath,
  /** The version this one was fine-tuned from. */
  parentId: uuid.optional(),
  notes: z.string().trim().max(2_000).optional(),
});

/** Who generates a version's answers: feedloop's TF.js model or an OpenAI-compatible server. */
export const modelProvider = z.enum(['local', 'openai']);
export type ModelProviderName = z.output<typeof modelProvider>;

/** Headers that carry credentials: those go in the environment variable named by apiKeyEnv. */
const CREDENTIAL_HEADERS = new Set([
  'authorization',
  'proxy-authorization',
  'api-key',
  'x-api-key',
  'cookie',
]);

/** Extra headers sent to an upstream: plain values, never credentials (they would be stored). */
export const upstreamHeaders = z
  .record(
    z
      .string()
      .min(1)
      .max(100)
      .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'must be an HTTP header name')
      .refine(
        (h) => !CREDENTIAL_HEADERS.has(h.toLowerCase()),
        'must not carry a credential: put the key in an environment variable and name it in apiKeyEnv',
      ),
    z
      .string()
      .max(1000)
      .regex(/^[\t\x20-\x7e]*$/, 'must be printable ASCII'),
  )
  .refine((h) => Object.keys(h).length <= 20, 'at most 20 headers');

/** An upstream's OpenAI base URL: http(s), the part before `/chat/completions`. */
export const upstreamBaseUrl = z
  .string()
  .trim()
  .max(500)
  .refine((u) => {
    try {
      const url = new URL(u);
      return (url.protocol === 'http:' || url.protocol === 'https:') && !url.username && !url.password;
    } catch {
      return false;
    }
  }, 'must be an http(s) URL without credentials in it, such as http://127.0.0.1:8000/v1');

export const registerUpstreamBody = z.strictObject({
  name: modelName,
  /** The server's OpenAI base URL, e.g. http://127.0.0.1:8000/v1 (vLLM) or http://127.0.0.1:11434/v1 (Ollama). */
  baseUrl: upstreamBaseUrl,
  /** The model id the upstream serves (what its `/v1/models` lists). */
  model: z.string().trim().min(1).max(200),
  /** The environment variable of the API process holding the upstream's API key (the key is never stored). */
  apiKeyEnv: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'must be an environment variable name')
    .optional(),
  headers: upstreamHeaders.optional(),
  /** Sampling defaults for this version; a request's own options win. */
  defaults: samplingOptions.optional(),
  reason: z.string().trim().min(1, 'must not be empty').max(2_000),
});
export type RegisterUpstreamBody = z.input<typeof registerUpstreamBody>;

/** An upstream version's settings as stored and shown (no key: only the variable's name). */
export const upstreamView = z.object({
  baseUrl: z.string(),
  model: z.string(),
  apiKeyEnv: z.string().nullable(),
  headers: z.record(z.string(), z.string()),
});

export const activateModelBody = z.strictObject({
  reason: z.string().trim().min(1, 'must not be empty').max(2_000),
});

export const listModelsQuery = pageQuery.extend({ status: modelStatus.optional() });

/** Where an imported version came from (model_versions.provenance). */
export const modelProvenance = z.object({
  kind: z.literal('hf-import'),
  /** The folder under MODEL_DIR/incoming (or the path given to `npm run model:import`). */
  from: z.string(),
  /** sha256 over the files the import read, each as name, NUL, bytes, in name order. */
  sourceSha256: z.string(),
  files: z.array(z.string()),
  /** The source's config.json as it was. */
  sourceConfig: z.record(z.string(), z.unknown()),
  /** Special tokens the source tokenizer lacked; their embedding rows start as the mean row. */
  addedTokens: z.array(z.string()),
  storedAs: z.enum(['F32', 'F16', 'BF16']),
  parameters: z.number().int(),
});
export type ModelProvenance = z.infer<typeof modelProvenance>;

/** A folder under MODEL_DIR/incoming, written relative to it. */
export const incomingPath = z
  .string()
  .trim()
  .min(1)
  .max(500)
  .refine(
    (p) =>
      !p.startsWith('/') &&
      !p.includes('\\') &&
      p.split('/').every((s) => s !== '' && s !== '..' && s !== '.'),
    'must be a folder under MODEL_DIR/incoming, written relative to it (no leading "/", no "..")',
  );

export const importModelBody = z.strictObject({
  /** The Hugging Face folder to import, relative to MODEL_DIR/incoming. */
  from: incomingPath,
  /** The new version's name; its folder is MODEL_DIR/<name>. */
  name: modelName,
  reason: z.string().trim().min(1, 'must not be empty').max(2_000),
});

export const exportModelQuery = z.strictObject({
  /** How the weights are stored: float32 (what transformers expects by default), float16 or bfloat16. */
  dtype: z.enum(['float32', 'float16', 'bfloat16']).default('float32'),
});

export const modelVersionView = z.object({
  id: z.string(),
  name: z.string(),
  status: modelStatus,
  provider: modelProvider,
  /** The folder under MODEL_DIR (local versions); null for an upstream version. */
  path: z.string().nullable(),
  /** Where an upstream version is served from; null for a local version. */
  upstream: upstreamView.nullable(),
  /** Sampling defaults for this version; a request's own options win. */
  defaults: samplingOptions.nullable(),
  parentId: z.string().nullable(),
  datasetId: z.string().nullable(),
  notes: z.string(),
  provenance: modelProvenance.nullable(),
  createdAt: isoDate,
  promotedAt: isoDate.nullable(),
});

export const modelVersionPage = z.object({
  modelVersions: z.array(modelVersionView),
  nextCursor,
  /** The older form of nextCursor (the last version's id, for `before`). */
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

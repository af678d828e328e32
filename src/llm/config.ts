// Model and training configs: zod-validated plain objects, so a run's config can be written next to
// its weights and read back with the same guarantees.
import { z } from 'zod';

export const ModelConfigSchema = z
  .object({
    vocabSize: z.number().int().positive(),
    contextLength: z.number().int().positive(),
    dModel: z.number().int().positive(),
    nLayers: z.number().int().positive(),
    nHeads: z.number().int().positive(),
    dFf: z.number().int().positive(),
    layerNormEps: z.number().positive().default(1e-5),
    initStd: z.number().positive().default(0.02),
  })
  .refine((c) => c.dModel % c.nHeads === 0, {
    message: 'dModel must be divisible by nHeads',
    path: ['nHeads'],
  });
export type ModelConfig = z.infer<typeof ModelConfigSchema>;

/** Named sizes without a vocabulary: the tokenizer decides vocabSize. */
export type ModelShape = Omit<ModelConfig, 'vocabSize'>;

export const MODEL_SIZES = {
  // For tests: trains in seconds on one wasm thread.
  tiny: { contextLength: 32, dModel: 32, nLayers: 2, nHeads: 2, dFf: 128, layerNormEps: 1e-5, initStd: 0.02 },
  // The shipped default: pretrains within ~40 minutes on one wasm thread (~40 GFLOP/s peak).
  small: {
    contextLength: 128,
    dModel: 192,
    nLayers: 4,
    nHeads: 4,
    dFf: 768,
    layerNormEps: 1e-5,
    initStd: 0.02,
  },
  // For a machine with a GPU backend (tfjs-node-gpu).
  medium: {
    contextLength: 512,
    dModel: 384,
    nLayers: 6,
    nHeads: 6,
    dFf: 1536,
    layerNormEps: 1e-5,
    initStd: 0.02,
  },
  large: {
    contextLength: 1024,
    dModel: 768,
    nLayers: 12,
    nHeads: 12,
    dFf: 3072,
    layerNormEps: 1e-5,
    initStd: 0.02,
  },
  // OpenAI's GPT-2 small (124M parameters with its 50,257-token vocabulary): what an imported
  // `gpt2` or `distilgpt2`-width model is. The same shape as `large`, named for what it is.
  'gpt2-small': {
    contextLength: 1024,
    dModel: 768,
    nLayers: 12,
    nHeads: 12,
    dFf: 3072,
    layerNormEps: 1e-5,
    initStd: 0.02,
  },
} as const satisfies Record<string, ModelShape>;
export type ModelSize = keyof typeof MODEL_SIZES;
export const ModelSizeSchema = z.enum(['tiny', 'small', 'medium', 'large', 'gpt2-small']);

export function modelConfigFor(size: ModelSize, vocabSize: number): ModelConfig {
  return ModelConfigSchema.parse({ ...MODEL_SIZES[size], vocabSize });
}

// float16 and mixed are accepted by the schema only so that asking for them gets a clear error.
export const PrecisionSchema = z.enum(['float32', 'float16', 'mixed']);

export const PretrainConfigSchema = z.object({
  size: ModelSizeSchema.default('small'),
  seed: z.number().int().nonnegative().default(1234),
  batchSize: z.number().int().positive().default(16),
  steps: z.number().int().positive().default(900),
  warmupSteps: z.number().int().nonnegative().default(50),
  peakLr: z.number().positive().default(2e-3),
  minLr: z.number().nonnegative().default(1e-4),
  weightDecay: z.number().nonnegative().default(0.1),
  beta1: z.number().min(0).max(1).default(0.9),
  beta2: z.number().min(0).max(1).default(0.99),
  clipNorm: z.number().positive().default(1.0),
  evalEvery: z.number().int().positive().default(100),
  evalBatches: z.number().int().positive().default(8),
  checkpointEvery: z.number().int().positive().default(50),
  /** Stop (and checkpoint) once this many seconds of training have passed in this process. */
  maxSeconds: z.number().positive().optional(),
  precision: PrecisionSchema.default('float32'),
});
export type PretrainConfig = z.infer<typeof PretrainConfigSchema>;

/** TF.js has no float16 kernels, so mixed precision cannot be honoured: say so instead of ignoring it. */
export function assertPrecisionSupported(precision: z.infer<typeof PrecisionSchema>): void {
  if (precision !== 'float32') {
    throw new Error(
      `precision "${precision}" is not supported: TensorFlow.js has no float16 tensors or kernels, so training runs in float32 only`,
    );
  }
}

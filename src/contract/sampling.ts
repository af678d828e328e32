// Sampling options, defined once with the bounds feedloop serves under. The chat socket takes them
// as one object (camelCase); the OpenAI-compatible completions route and logged conversations spell
// them as OpenAI does (snake_case), each field with the same schema.
import { z } from 'zod';

/** The longest answer one request may ask for, in tokens. */
export const MAX_ANSWER_TOKENS = 2048;
/** Stop sequences one request may give. */
export const MAX_STOP_SEQUENCES = 4;

/** Each option's schema, for the snake_case spellings. */
export const samplingField = {
  maxTokens: z.number().int().min(1).max(MAX_ANSWER_TOKENS),
  temperature: z.number().min(0).max(2),
  topP: z.number().gt(0).max(1),
  /** 0 turns top-k off. */
  topK: z.number().int().min(0).max(1000),
  /** The answer does not end before this many tokens (vLLM's min_tokens). */
  minTokens: z.number().int().min(0).max(MAX_ANSWER_TOKENS),
  /** One sequence or a list; the answer ends before the first one that appears. */
  stop: z.union([z.string().min(1), z.array(z.string().min(1)).max(MAX_STOP_SEQUENCES)]),
  /** Same seed, prompt and model: same answer. */
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
};

export const samplingOptions = z.strictObject({
  maxTokens: samplingField.maxTokens.optional(),
  temperature: samplingField.temperature.optional(),
  topP: samplingField.topP.optional(),
  topK: samplingField.topK.optional(),
  minTokens: samplingField.minTokens.optional(),
  stop: samplingField.stop.optional(),
  seed: samplingField.seed.optional(),
});
export type SamplingOptions = z.output<typeof samplingOptions>;

/** The options as the model takes them: stop sequences always as a list. */
export function withStopList({
  stop,
  ...rest
}: SamplingOptions): Omit<SamplingOptions, 'stop'> & { stop?: string[] } {
  return stop === undefined ? rest : { ...rest, stop: typeof stop === 'string' ? [stop] : stop };
}

// Reads a dataset snapshot (TRL-style JSONL rows written by src/datasets) and turns each row into
// token sequences through the one chat template: prompt tokens, then completion tokens + <|end|>.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ChatMessageSchema, formatChatPrompt, type ChatMessage, type TextTokenizer } from '../llm/index.ts';
import type { Method } from './config.ts';

export type Split = 'train' | 'validation';

const rowMeta = {
  weight: z.number().nonnegative().default(1),
  source: z.string().optional(),
  synthetic: z.boolean().optional(),
};
const AssistantTurns = z.array(ChatMessageSchema).min(1);

export const SftRowSchema = z.object({ messages: z.array(ChatMessageSchema).min(2), ...rowMeta });
export const PreferenceRowSchema = z.object({
  prompt: z.array(ChatMessageSchema).min(1),
  chosen: AssistantTurns,
  rejected: AssistantTurns,
  ...rowMeta,
});
export const KtoRowSchema = z.object({
  prompt: z.array(ChatMessageSchema).min(1),
  completion: AssistantTurns,
  label: z.boolean(),
  ...rowMeta,
});

/** Dataset format (file prefix) each method trains on. */
export const METHOD_FORMAT: Record<Method, 'sft' | 'preference' | 'kto'> = {
  sft: 'sft',
  dpo: 'preference',
  kto: 'kto',
};

/** Reads `<format>.<split>.jsonl`; a missing file is an empty split. */
export function readRows(datasetDir: string, method: Method, split: Split): unknown[] {
  const file = join(datasetDir, `${METHOD_FORMAT[method]}.${split}.jsonl`);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((line, i) => {
      try {
        return JSON.parse(line) as unknown;
      } catch {
        throw new Error(`${file}:${i + 1} is not valid JSON`);
      }
    });
}

/** Token ids with the index where the completion (the scored part) starts. */
export interface TokenSequence {
  ids: number[];
  completionStart: number;
}

export interface SftExample {
  seq: TokenSequence;
  weight: number;
}
export interface PairExample {
  chosen: TokenSequence;
  rejected: TokenSequence;
  weight: number;
}
export interface KtoExample {
  seq: TokenSequence;
  /** The same prompt with another example's completion: the KL reference term of KTO. */
  mismatched: TokenSequence;
  desirable: boolean;
  weight: number;
}
export type MethodExample = SftExample | PairExample | KtoExample;

function completionText(turns: ChatMessage[]): string {
  // TRL rows carry the reply as assistant turns; several are joined into one reply.
  return turns.map((t) => t.content).join('\n');
}

/** Joins prompt and completion ids, cutting the prompt from the left (then the completion) to fit. */
function joinSequence(prompt: number[], completion: number[], maxTokens: number): TokenSequence {
  const comp = completion.slice(0, Math.max(1, maxTokens - 1));
  const keepPrompt = Math.max(1, maxTokens - comp.length);
  const p = prompt.slice(Math.max(0, prompt.length - keepPrompt));
  return { ids: [...p, ...comp], completionStart: p.length };
}

export class SequenceEncoder {
  constructor(
    private readonly tokenizer: TextTokenizer,
    private readonly maxTokens: number,
  ) {}

  async encode(pairs: { prompt: ChatMessage[]; completion: string }[]): Promise<TokenSequence[]> {
    if (pairs.length === 0) return [];
    const prompts = await this.tokenizer.encodeBatch(pairs.map((p) => formatChatPrompt(p.prompt)));
    const completions = await this.tokenizer.encodeBatch(pairs.map((p) => p.completion));
    return pairs.map((_, i) =>
      joinSequence(prompts[i]!, [...completions[i]!, this.tokenizer.endId], this.maxTokens),
    );
  }
}

function parseRow<T>(schema: z.ZodType<T>, row: unknown, where: string): T {
  const r = schema.safeParse(row);
  if (!r.success)
    throw new Error(`${where}: ${r.error.issues[0]?.path.join('.')} ${r.error.issues[0]?.message}`);
  return r.data;
}

/** Tokenizes one split of one method's data. */
export async function loadExamples(
  datasetDir: string,
  method: Method,
  split: Split,
  encoder: SequenceEncoder,
): Promise<MethodExample[]> {
  const rows = readRows(datasetDir, method, split);
  const where = (i: number) => `${METHOD_FORMAT[method]}.${split}.jsonl row ${i + 1}`;
  if (method === 'sft') {
    const parsed = rows.map((r, i) => parseRow(SftRowSchema, r, where(i)));
    const seqs = await encoder.encode(
      parsed.map((r) => {
        const last = r.messages.at(-1)!;
        if (last.role !== 'assistant') throw new Error(`sft rows must end with an assistant turn`);
        return { prompt: r.messages.slice(0, -1), completion: last.content };
      }),
    );
    return parsed.map((r, i) => ({ seq: seqs[i]!, weight: r.weight }));
  }
  if (method === 'dpo') {
    const parsed = rows.map((r, i) => parseRow(PreferenceRowSchema, r, where(i)));
    const chosen = await encoder.encode(
      parsed.map((r) => ({ prompt: r.prompt, completion: completionText(r.chosen) })),
    );
    const rejected = await encoder.encode(
      parsed.map((r) => ({ prompt: r.prompt, completion: completionText(r.rejected) })),
    );
    return parsed.map((r, i) => ({ chosen: chosen[i]!, rejected: rejected[i]!, weight: r.weight }));
  }
  const parsed = rows.map((r, i) => parseRow(KtoRowSchema, r, where(i)));
  const seqs = await encoder.encode(
    parsed.map((r) => ({ prompt: r.prompt, completion: completionText(r.completion) })),
  );
  // KTO's KL estimate pairs each prompt with the next example's completion (a fixed pairing, so
  // the reference model's log-probs for it can be computed once).
  const mismatched = await encoder.encode(
    parsed.map((r, i) => ({
      prompt: r.prompt,
      completion: completionText(parsed[(i + 1) % parsed.length]!.completion),
    })),
  );
  return parsed.map((r, i) => ({
    seq: seqs[i]!,
    mismatched: mismatched[i]!,
    desirable: r.label,
    weight: r.weight,
  }));
}

/** Padded [B,T] tokens and a [B,T] mask that is 1 on completion tokens. */
export interface PackedSequences {
  tokens: Int32Array;
  mask: Float32Array;
  batch: number;
  length: number;
}

export function packSequences(seqs: readonly TokenSequence[], pad: number): PackedSequences {
  const length = Math.max(2, ...seqs.map((s) => s.ids.length));
  const tokens = new Int32Array(seqs.length * length).fill(pad);
  const mask = new Float32Array(seqs.length * length);
  seqs.forEach((s, b) => {
    tokens.set(s.ids, b * length);
    for (let t = s.completionStart; t < s.ids.length; t++) mask[b * length + t] = 1;
  });
  return { tokens, mask, batch: seqs.length, length };
}

/**
 * Next-token batch for SFT: inputs = tokens[:-1], targets = tokens[1:], and a per-token weight that
 * is the example weight on completion targets and 0 on prompt targets and padding.
 */
export function sftBatchArrays(
  examples: readonly SftExample[],
  pad: number,
): { inputs: Int32Array; targets: Int32Array; weights: Float32Array; batch: number; length: number } {
  const packed = packSequences(
    examples.map((e) => e.seq),
    pad,
  );
  const t = packed.length - 1;
  const b = packed.batch;
  const inputs = new Int32Array(b * t);
  const targets = new Int32Array(b * t);
  const weights = new Float32Array(b * t);
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < t; j++) {
      inputs[i * t + j] = packed.tokens[i * packed.length + j]!;
      targets[i * t + j] = packed.tokens[i * packed.length + j + 1]!;
      weights[i * t + j] = packed.mask[i * packed.length + j + 1]! * examples[i]!.weight;
    }
  }
  return { inputs, targets, weights, batch: b, length: t };
}

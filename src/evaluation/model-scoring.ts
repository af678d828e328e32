// The two things evaluation asks of a model: a greedy chat answer, and the log-probability of
// given tokens (batched, forward pass only). Both run on whatever TF.js backend is active.
import * as tf from '@tensorflow/tfjs';
import { CHAT_STOP, formatChatPrompt, SPECIAL_TOKENS, type ChatMessage } from '../llm/chat-format.ts';
import type { LoadedModel } from '../llm/checkpoint.ts';
import { GenerationSession } from '../llm/generate.ts';
import { sequenceLogProb } from '../llm/losses.ts';

/** The greedy (temperature 0) reply to a chat prompt, stopped at the end of the assistant turn. */
export async function greedyAnswer(
  model: LoadedModel,
  messages: ChatMessage[],
  maxTokens: number,
): Promise<string> {
  const { tokenizer } = model;
  const ids = await tokenizer.encode(formatChatPrompt(messages));
  // Any special token ends a reply, as in serving: <|end|>, <|endoftext|> or a new turn.
  const stopIds = Object.values(SPECIAL_TOKENS).map((t) => tokenizer.requireId(t));
  const session = new GenerationSession(
    model,
    ids,
    { temperature: 0, maxTokens, stop: [...CHAT_STOP], seed: 0 },
    stopIds,
  );
  for (;;) {
    const event = await session.step();
    if (event.done) return event.result!.text.trim();
  }
}

export interface ScoredSequence {
  /** Token ids of the whole sequence (context then scored part). */
  ids: number[];
  /** Index of the first scored token (>= 1: the first token has no prediction). */
  scoreFrom: number;
}

export interface SequenceScore {
  logProb: number;
  tokens: number;
}

/**
 * Sum of log p(ids[t] | ids[<t]) over t >= scoreFrom, for many sequences. Sequences longer than the
 * context window lose tokens from the left. Batches are formed from similar lengths so padding
 * (masked out; the model is causal, so trailing padding cannot affect earlier positions) stays small.
 * `between` runs after each batch (to yield, and to stop when the caller is cancelled).
 */
export async function scoreSequences(
  model: LoadedModel,
  sequences: ScoredSequence[],
  batchSize = 16,
  between?: () => Promise<void>,
): Promise<SequenceScore[]> {
  const { params, config } = model;
  const prepared = sequences.map((s) => {
    const drop = Math.max(0, s.ids.length - config.contextLength);
    return { ids: s.ids.slice(drop), scoreFrom: Math.max(1, s.scoreFrom - drop) };
  });
  const order = prepared.map((_, i) => i).sort((a, b) => prepared[a]!.ids.length - prepared[b]!.ids.length);
  const out: SequenceScore[] = new Array(sequences.length);
  for (let start = 0; start < order.length; start += batchSize) {
    const batch = order.slice(start, start + batchSize);
    const width = Math.max(2, ...batch.map((i) => prepared[i]!.ids.length));
    const tokens = new Int32Array(batch.length * width);
    const mask = new Float32Array(batch.length * width);
    batch.forEach((idx, row) => {
      const s = prepared[idx]!;
      tokens.set(s.ids, row * width);
      for (let t = s.scoreFrom; t < s.ids.length; t++) mask[row * width + t] = 1;
    });
    const sums = tf.tidy(() =>
      sequenceLogProb(
        params,
        config,
        tf.tensor2d(tokens, [batch.length, width], 'int32'),
        tf.tensor2d(mask, [batch.length, width], 'float32'),
      ),
    );
    const values = sums.dataSync();
    sums.dispose();
    batch.forEach((idx, row) => {
      const s = prepared[idx]!;
      out[idx] = { logProb: values[row]!, tokens: Math.max(0, s.ids.length - s.scoreFrom) };
    });
    await between?.();
  }
  return out;
}

/** A chat prompt followed by an assistant reply closed by <|end|>, scored on the reply only. */
export async function chatReplySequence(
  model: LoadedModel,
  prompt: ChatMessage[],
  reply: string,
): Promise<ScoredSequence> {
  const context = await model.tokenizer.encode(formatChatPrompt(prompt));
  const answer = await model.tokenizer.encode(`${reply}${SPECIAL_TOKENS.end}`);
  return { ids: [...context, ...answer], scoreFrom: context.length };
}

// The two things evaluation asks of a model: a greedy chat answer, and the log-probability of
// given tokens (batched, forward pass only). For a local model both run on whatever TF.js backend
// is active; EvaluatedModel is the same two things for any provider (upstream-model.ts).
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

/** Log-probability scoring of texts, where the provider gives log-probabilities. */
export interface LogProbScorer {
  /** Each validation document, whole (local: between <|endoftext|> markers). */
  documents(texts: string[], between?: () => Promise<void>): Promise<SequenceScore[]>;
  /** A reply after its chat prompt, scored on the reply only. */
  replies(
    items: { prompt: ChatMessage[]; reply: string }[],
    between?: () => Promise<void>,
  ): Promise<SequenceScore[]>;
  /** `rest` after `prefix`, scored on `rest` only (the stereotype probe: the words after a name). */
  continuations(
    items: { prefix: string; rest: string }[],
    between?: () => Promise<void>,
  ): Promise<SequenceScore[]>;
}

/**
 * A version as evaluation sees it, whatever its provider: greedy answers always; log-probabilities
 * only where the provider returns them (else the reason they are not available).
 */
export interface EvaluatedModel {
  name: string;
  /** The model folder (local), or where the upstream is. */
  dir: string;
  provider: 'local' | 'openai';
  parameters: number | null;
  manifest: Record<string, unknown>;
  backend: string;
  greedyAnswer(messages: ChatMessage[], maxTokens: number): Promise<string>;
  logProbs: LogProbScorer | { unavailable: string };
}

/** A loaded TF.js model as an EvaluatedModel: every measure is available. */
export function localEvaluatedModel(
  model: LoadedModel,
  info: { name: string; parameters: number; backend: string },
): EvaluatedModel {
  const { tokenizer } = model;
  const eot = () => tokenizer.requireId(SPECIAL_TOKENS.endOfText);
  return {
    ...info,
    dir: model.dir,
    provider: 'local',
    manifest: model.manifest,
    greedyAnswer: (messages, maxTokens) => greedyAnswer(model, messages, maxTokens),
    logProbs: {
      async documents(texts, between) {
        const encoded = texts.length ? await tokenizer.encodeBatch(texts) : [];
        // As in pretraining, documents are separated by <|endoftext|>: it opens each one and its
        // prediction at the end counts (the model must know where a document stops).
        return scoreSequences(
          model,
          encoded.map((ids) => ({ ids: [eot(), ...ids, eot()], scoreFrom: 1 })),
          undefined,
          between,
        );
      },
      async replies(items, between) {
        const sequences: ScoredSequence[] = [];
        for (const item of items) sequences.push(await chatReplySequence(model, item.prompt, item.reply));
        return scoreSequences(model, sequences, undefined, between);
      },
      async continuations(items, between) {
        const sequences: ScoredSequence[] = [];
        for (const item of items) {
          const prefix = await tokenizer.encode(item.prefix);
          const rest = await tokenizer.encode(item.rest);
          sequences.push({ ids: [eot(), ...prefix, ...rest], scoreFrom: 1 + prefix.length });
        }
        return scoreSequences(model, sequences, undefined, between);
      },
    },
  };
}

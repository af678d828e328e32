// What serving asks of whoever generates a version's answers: feedloop's own TF.js worker pool
// (local.ts) or an OpenAI-compatible Chat Completions server (openai-compatible.ts). runCompletion
// and the evaluation talk to a version only through this interface.
import type { ModelVersion } from '../../generated/prisma/client.ts';
import type { ChatMessage, GenerationOptionsInput } from '../../llm/index.ts';

export interface TokenEvent {
  /** Text to append (can be empty when a token only completes a character later). */
  delta: string;
}

/** What the upstream said about an answer, as it said it (null where it said nothing). */
export interface UpstreamReport {
  /** The model id the upstream reported. */
  model: string | null;
  /** The upstream's response id. */
  responseId: string | null;
  /** Its usage object, as sent; null when it sent none (never a local estimate). */
  usage: Record<string, unknown> | null;
}

export interface ProviderCompletion {
  text: string;
  finishReason: 'stop' | 'length' | 'aborted';
  /** Tokens as counted by the model (local) or as reported by the upstream; null when not reported. */
  promptTokens: number | null;
  completionTokens: number | null;
  /** Upstream versions only. */
  upstream: UpstreamReport | null;
}

export interface ProviderStream extends AsyncIterable<TokenEvent> {
  /** Settles when generation ends: finishReason 'aborted' after cancellation; rejects on failure. */
  readonly result: Promise<ProviderCompletion>;
  cancel(): void;
}

export interface GenerationInput {
  messages: ChatMessage[];
  options: GenerationOptionsInput;
}

export interface ModelProvider {
  readonly kind: ModelVersion['provider'];
  /**
   * Readies the version (loads a local folder) and checks the prompt fits its context when the
   * caller refuses long prompts. Throws AppErrors a client can read.
   */
  prepare(version: ModelVersion, messages: ChatMessage[], longPrompt: 'reject' | 'truncate'): Promise<void>;
  generate(version: ModelVersion, input: GenerationInput, options: { signal?: AbortSignal }): ProviderStream;
}

/**
 * A ProviderStream fed by `run`: it pushes deltas as they come and resolves with the completion.
 * Iterating yields the deltas in order and then ends, or throws run's error.
 */
export function pushStream(
  run: (push: (event: TokenEvent) => void) => Promise<ProviderCompletion>,
  cancel: () => void,
): ProviderStream {
  const queue: TokenEvent[] = [];
  let wake: (() => void) | null = null;
  let ended = false;
  let failure: unknown = null;
  const result = run((event) => {
    queue.push(event);
    wake?.();
  }).then(
    (completion) => {
      ended = true;
      wake?.();
      return completion;
    },
    (err: unknown) => {
      ended = true;
      failure = err ?? new Error('generation failed');
      wake?.();
      throw err;
    },
  );
  // Whoever only iterates still sees the failure; keep it from being an unhandled rejection.
  result.catch(() => {});
  const iterate = async function* (): AsyncGenerator<TokenEvent> {
    for (;;) {
      if (queue.length) {
        yield queue.shift()!;
        continue;
      }
      if (failure) throw failure;
      if (ended) return;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = null;
    }
  };
  return { result, cancel, [Symbol.asyncIterator]: iterate };
}

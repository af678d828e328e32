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

// Text a stream holds for a reader that has fallen behind before its generation waits for it.
const QUEUE_HIGH_WATER_CHARS = 64 * 1024;

/**
 * A ProviderStream fed by `run`: it pushes deltas as they come and resolves with the completion.
 * Iterating yields the deltas in order and then ends, or throws run's error.
 *
 * Backpressure: once someone iterates, `push` returns a promise that waits while the reader has
 * QUEUE_HIGH_WATER_CHARS of text not yet taken, and `run` awaits it before pulling more from its
 * source, so a client that stops reading stops the upstream (through the sockets' buffers) instead
 * of its answer piling up here. A caller that only awaits `result` is never waited for, and nobody
 * is waited for once the stream is cancelled or its reader has stopped.
 */
export function pushStream(
  run: (push: (event: TokenEvent) => Promise<void>) => Promise<ProviderCompletion>,
  cancel: () => void,
): ProviderStream {
  const queue: TokenEvent[] = [];
  let queuedChars = 0;
  let wake: (() => void) | null = null;
  let ended = false;
  let failure: unknown = null;
  // Someone iterates: from then on the generation waits for them.
  let reading = false;
  // Cancelled, or the reader stopped: the generation is never held back again.
  let released = false;
  // Settles when the reader has taken enough for the generation to go on.
  let room: { promise: Promise<void>; resolve: () => void } | null = null;
  const makeRoom = () => {
    room?.resolve();
    room = null;
  };
  const release = () => {
    released = true;
    makeRoom();
  };
  const push = (event: TokenEvent): Promise<void> => {
    queue.push(event);
    queuedChars += event.delta.length;
    wake?.();
    if (!reading || released || queuedChars < QUEUE_HIGH_WATER_CHARS) return Promise.resolve();
    if (!room) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      room = { promise, resolve };
    }
    return room.promise;
  };
  const result = run(push).then(
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
    reading = true;
    try {
      for (;;) {
        if (queue.length) {
          const event = queue.shift()!;
          queuedChars -= event.delta.length;
          if (queuedChars < QUEUE_HIGH_WATER_CHARS) makeRoom();
          yield event;
          continue;
        }
        if (failure) throw failure;
        if (ended) return;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
      }
    } finally {
      release();
    }
  };
  return {
    result,
    cancel: () => {
      release();
      cancel();
    },
    [Symbol.asyncIterator]: iterate,
  };
}

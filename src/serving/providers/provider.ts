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

/** Takes one event; a promise it returns holds the generation back until it settles. */
export type TokenSink = (event: TokenEvent) => void | Promise<void>;

export interface ProviderStream extends AsyncIterable<TokenEvent> {
  /** Settles when generation ends: finishReason 'aborted' after cancellation; rejects on failure. */
  readonly result: Promise<ProviderCompletion>;
  cancel(): void;
  /**
   * Hands every event to `sink` as the generation pushes it, in place of iterating (a stream has
   * one reader: iterate it or deliver it, not both), without the promise and iterator result an
   * async iterator costs per event. Resolves with the result once every event was handed on;
   * rejects with the generation's failure, or with the sink's own (a sink that throws or rejects
   * cancels the generation).
   */
  deliver(sink: TokenSink): Promise<ProviderCompletion>;
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

/** What a generation calls with each event: a promise it returns must be awaited before the next. */
export type Push = (event: TokenEvent) => Promise<void> | undefined;

/**
 * A ProviderStream fed by `run`: it pushes deltas as they come and resolves with the completion.
 * Iterating yields the deltas in order and then ends, or throws run's error; `deliver` hands each
 * one to a sink as it is pushed instead.
 *
 * Backpressure: once someone iterates, `push` returns a promise that waits while the reader has
 * QUEUE_HIGH_WATER_CHARS of text not yet taken, and `run` awaits it before pulling more from its
 * source, so a client that stops reading stops the upstream (through the sockets' buffers) instead
 * of its answer piling up here. Delivered, `push` returns the sink's own promise (the client's
 * buffer is full) and `run` waits for that. Otherwise `push` returns nothing: no promise per event.
 * A caller that only awaits `result` is never waited for, and nobody is waited for once the stream
 * is cancelled or its reader has stopped.
 */
export function pushStream(
  run: (push: Push) => Promise<ProviderCompletion>,
  cancel: () => void,
): ProviderStream {
  const queue: TokenEvent[] = [];
  let queuedChars = 0;
  let wake: (() => void) | null = null;
  let ended = false;
  let failure: unknown = null;
  // Someone iterates, or a sink was given: from then on the generation waits for them.
  let reading = false;
  // Cancelled, or the reader stopped: the generation is never held back again.
  let released = false;
  // Settles when the reader has taken enough for the generation to go on.
  let room: { promise: Promise<void>; resolve: () => void } | null = null;
  // Where events go when the stream is delivered; what made it fail, once it has.
  let sink: TokenSink | null = null;
  let sinkFailure: { error: unknown } | null = null;
  const makeRoom = () => {
    room?.resolve();
    room = null;
  };
  const release = () => {
    released = true;
    makeRoom();
  };
  const stop = () => {
    release();
    cancel();
  };
  const sinkFailed = (error: unknown) => {
    sinkFailure ??= { error };
    stop();
  };
  const handOn = (event: TokenEvent): Promise<void> | undefined => {
    if (sinkFailure) return undefined;
    let waiting: void | Promise<void>;
    try {
      waiting = sink!(event);
    } catch (err) {
      sinkFailed(err);
      return undefined;
    }
    // The generation waits for the sink but never sees its failure: the cancel ends it.
    return waiting ? waiting.then(undefined, sinkFailed) : undefined;
  };
  const push: Push = (event) => {
    // Delivered, with nothing pushed earlier still queued: straight to the sink.
    if (sink && !queue.length) return handOn(event);
    queue.push(event);
    queuedChars += event.delta.length;
    wake?.();
    if (!reading || released || queuedChars < QUEUE_HIGH_WATER_CHARS) return undefined;
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
  // Events pushed before the sink was given: handed on in order, later ones queueing behind them.
  const handOnQueued = async () => {
    while (queue.length) {
      const event = queue.shift()!;
      queuedChars -= event.delta.length;
      if (queuedChars < QUEUE_HIGH_WATER_CHARS) makeRoom();
      const waiting = handOn(event);
      if (waiting) await waiting;
    }
  };
  const deliver = (to: TokenSink): Promise<ProviderCompletion> => {
    reading = true;
    sink = to;
    const handedOn = queue.length ? handOnQueued().then(() => result) : result;
    return handedOn.then(
      (completion) => {
        if (sinkFailure) throw sinkFailure.error;
        return completion;
      },
      (err: unknown) => {
        throw sinkFailure ? sinkFailure.error : err;
      },
    );
  };
  return {
    result,
    cancel: stop,
    deliver,
    [Symbol.asyncIterator]: iterate,
  };
}

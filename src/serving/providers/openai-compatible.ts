// The `openai` provider: a version served by any OpenAI-compatible Chat Completions server (vLLM,
// Ollama, TGI, llama.cpp, a hosted API), called with undici's request() (the HTTP client under
// Node's fetch, without fetch's WHATWG streams) and eventsource-parser: the `openai` client and
// fetch both cost more CPU per streamed answer (bench/upstream-client-cpu.ts measures it), and CPU
// spent before a first token is queueing for every other stream. Every request
// streams from the upstream (also for a client that asked for one JSON answer), asking for usage
// in the last chunk, so tokens pass through as they arrive, the first-token timeout can be told
// apart from the whole answer's, and a client that goes away aborts the upstream request.
//
// The API key is read from the environment variable the version names, at request time; it is
// never stored, and it is cut out of every message that leaves this module.
import type { Readable } from 'node:stream';
import { createParser } from 'eventsource-parser';
import { Agent, request, type Dispatcher } from 'undici';
import type { ModelVersion } from '../../generated/prisma/client.ts';
import { AppError } from '../../platform/errors/app-error.ts';
import type { ChatMessage, GenerationOptionsInput } from '../../llm/index.ts';
import { upstreamHeaders } from '../../contract/model-versions.ts';
import {
  pushStream,
  type GenerationInput,
  type ModelProvider,
  type ProviderCompletion,
  type ProviderStream,
} from './provider.ts';

export interface UpstreamTimeouts {
  /** Until the upstream starts its HTTP response (status and headers). */
  connectMs: number;
  /** Until the first token of the answer. */
  firstTokenMs: number;
  /** The whole answer. */
  totalMs: number;
}

type Phase = 'connect' | 'firstToken' | 'total';

const PHASE_WORDS: Record<Phase, string> = {
  connect: 'to start its response',
  firstToken: 'to send the first token',
  total: 'to finish the answer',
};

class UpstreamTimeout extends Error {
  constructor(
    readonly phase: Phase,
    readonly ms: number,
  ) {
    super(`upstream ${phase} timeout`);
  }
}

/** Cuts `secret` out of a text that may leave the process (a message, a log line). */
export function redact(text: string, secret: string | null): string {
  return secret ? text.split(secret).join('[redacted]') : text;
}

/** The OpenAI request parameters for feedloop's sampling options (non-standard ones only when set). */
export function upstreamParams(options: GenerationOptionsInput): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  if (options.maxTokens !== undefined) params.max_tokens = options.maxTokens;
  if (options.temperature !== undefined) params.temperature = options.temperature;
  if (options.topP !== undefined) params.top_p = options.topP;
  if (options.stop !== undefined && options.stop.length > 0) params.stop = options.stop;
  if (options.seed !== undefined) params.seed = options.seed;
  // vLLM's extensions (feedloop speaks them too); other servers ignore or refuse them.
  if (options.topK !== undefined) params.top_k = options.topK;
  if (options.minTokens !== undefined && options.minTokens > 0) params.min_tokens = options.minTokens;
  return params;
}

export interface UpstreamTarget {
  baseUrl: string;
  model: string;
  apiKeyEnv: string | null;
  headers: Record<string, string>;
}

/** Targets by version row: the served versions are a snapshot every request shares (version-choice.ts). */
const targets = new WeakMap<ModelVersion, UpstreamTarget>();

/** Where `version`'s requests go; read once per version row, and not to be changed by the caller. */
export function upstreamTarget(version: ModelVersion): UpstreamTarget {
  const known = targets.get(version);
  if (known) return known;
  if (version.provider !== 'openai' || !version.baseUrl || !version.upstreamModel)
    throw new Error(`model version ${version.name} is not an upstream version`);
  const target = {
    baseUrl: version.baseUrl,
    model: version.upstreamModel,
    apiKeyEnv: version.apiKeyEnv,
    headers: upstreamHeaders.nullable().parse(version.upstreamHeaders) ?? {},
  };
  targets.set(version, target);
  return target;
}

/** The upstream's API key, read from the environment now; null when the version names none. */
export function upstreamKey(target: UpstreamTarget, env: NodeJS.ProcessEnv): string | null {
  if (!target.apiKeyEnv) return null;
  const key = env[target.apiKeyEnv] || null;
  if (!key)
    throw new AppError(
      'upstream_error',
      `The upstream's API key is missing: the environment variable ${target.apiKeyEnv} is not set in the API process`,
      { param: 'model' },
    );
  return key;
}

/** The upstream answered with an HTTP error status. */
class UpstreamRefusal extends Error {
  constructor(
    readonly status: number,
    said: string,
  ) {
    super(said);
  }
}

/** The upstream's answer is not what the API says it sends (an event that is not JSON, an error event). */
class UpstreamBadAnswer extends Error {}

/**
 * The connections to every upstream, kept alive between requests. Its own header and body timeouts
 * are off: the configured UpstreamTimeouts decide.
 */
const upstreamAgent = new Agent({ headersTimeout: 0, bodyTimeout: 0 });

/**
 * POSTs `body` as JSON to `path` under the upstream's base URL. No retries: a retried generation
 * would be a second answer. Without a key no Authorization header is sent. Resolves with the body
 * once the upstream has sent a 2xx status and its headers; an error status throws UpstreamRefusal
 * with what it said.
 */
async function postUpstream(
  target: UpstreamTarget,
  key: string | null,
  path: string,
  body: Record<string, unknown>,
  signal: AbortSignal,
): Promise<Readable & { text(): Promise<string> }> {
  const response = await request(`${target.baseUrl.replace(/\/+$/, '')}${path}`, {
    method: 'POST',
    headers: {
      ...target.headers,
      'content-type': 'application/json',
      accept: body.stream ? 'text/event-stream' : 'application/json',
      ...(key ? { authorization: `Bearer ${key}` } : {}),
    },
    body: JSON.stringify(body),
    signal,
    dispatcher: upstreamAgent,
  });
  if (response.statusCode >= 200 && response.statusCode < 300) return response.body;
  throw refusal(response.statusCode, await response.body.text());
}

/** An error status with the body the upstream sent with it: its error message, or the text itself. */
function refusal(status: number, text: string): UpstreamRefusal {
  let said = text;
  try {
    const message = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    if (typeof message === 'string') said = message;
  } catch {
    // Not JSON: what it said is the text itself.
  }
  return new UpstreamRefusal(status, said || `status ${status}`);
}

/**
 * POSTs `body` as JSON to `path` under the upstream's base URL, as postUpstream does, and hands the
 * answer's body to `take` one network chunk at a time as undici's dispatcher receives it: no
 * Readable, async iterator or promise per chunk between the socket and the parser. `onResponse` is
 * called when a 2xx status and its headers have come. A promise `take` returns pauses the response
 * until it settles. Resolves when the body has ended; an error status rejects with UpstreamRefusal
 * and what it said. A failed request or read rejects with undici's error; `signal` or a `take` that
 * throws or rejects aborts the request (and its connection) and rejects with the reason.
 */
function streamUpstream(
  target: UpstreamTarget,
  key: string | null,
  path: string,
  body: Record<string, unknown>,
  signal: AbortSignal,
  onResponse: () => void,
  take: (part: Buffer) => Promise<void> | undefined,
): Promise<void> {
  const url = new URL(`${target.baseUrl.replace(/\/+$/, '')}${path}`);
  return new Promise<void>((resolve, reject) => {
    let controller: Dispatcher.DispatchController | null = null;
    let settled = false;
    // An error status: its body, kept to say why.
    let refused: { status: number; parts: Buffer[] } | null = null;
    const settle = (err: unknown) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      if (err === null) return resolve();
      // Undici's own failure, or an answer that has ended, leaves nothing to abort.
      controller?.abort(err as Error);
      reject(err);
    };
    const onAbort = () => settle(signal.reason ?? new Error('aborted'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    const resume = () => {
      if (!settled) controller?.resume();
    };
    upstreamAgent.dispatch(
      {
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        headers: {
          ...target.headers,
          'content-type': 'application/json',
          accept: 'text/event-stream',
          ...(key ? { authorization: `Bearer ${key}` } : {}),
        },
        body: JSON.stringify(body),
      },
      {
        onRequestStart: (started) => {
          controller = started;
          // Aborted while waiting for a connection.
          if (settled) started.abort(signal.reason ?? new Error('aborted'));
        },
        onResponseStart: (_controller, statusCode) => {
          if (statusCode < 200 || settled) return;
          if (statusCode >= 300) refused = { status: statusCode, parts: [] };
          else onResponse();
        },
        onResponseData: (_controller, part) => {
          if (settled) return;
          if (refused) {
            refused.parts.push(part);
            return;
          }
          let waiting: Promise<void> | undefined;
          try {
            waiting = take(part);
          } catch (err) {
            settle(err);
            return;
          }
          if (waiting) {
            controller?.pause();
            waiting.then(resume, settle);
          }
        },
        onResponseEnd: () => {
          controller = null;
          settle(refused ? refusal(refused.status, Buffer.concat(refused.parts).toString('utf8')) : null);
        },
        onResponseError: (_controller, err) => {
          controller = null;
          settle(err);
        },
      },
    );
  });
}

/** The code of a failed connection or read, in words without secrets ("ECONNREFUSED"); null if none. */
function connectionCause(err: unknown): string | null {
  let cause: unknown = err;
  for (let i = 0; i < 4 && cause; i++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    cause = (cause as { cause?: unknown }).cause;
  }
  return null;
}

/** An upstream failure as the client sees it: 502 upstream_error or 504 upstream_timeout. */
export function upstreamFailure(err: unknown, target: UpstreamTarget, key: string | null): AppError {
  if (err instanceof AppError) return err;
  const where = `the upstream at ${target.baseUrl} (model ${target.model})`;
  if (err instanceof UpstreamTimeout)
    return new AppError(
      'upstream_timeout',
      `${where} took longer than ${err.ms} ms ${PHASE_WORDS[err.phase]}`,
      {
        phase: err.phase,
        timeoutMs: err.ms,
      },
    );
  if (err instanceof UpstreamRefusal)
    return new AppError(
      'upstream_error',
      `${where} answered ${err.status}: ${redact(err.message, key).slice(0, 500)}`,
      { upstreamStatus: err.status },
    );
  if (err instanceof UpstreamBadAnswer)
    return new AppError(
      'upstream_error',
      `${where} sent a malformed answer: ${redact(err.message, key).slice(0, 500)}`,
      {
        upstreamStatus: null,
      },
    );
  // A failure to connect or to read (ECONNREFUSED, UND_ERR_SOCKET).
  const cause = connectionCause(err);
  if (cause)
    return new AppError('upstream_error', `Could not reach ${where}: ${cause}`, { upstreamStatus: null });
  const message = err instanceof Error ? err.message : String(err);
  return new AppError('upstream_error', `${where} failed: ${redact(message, key).slice(0, 500)}`, {
    upstreamStatus: null,
  });
}

/** The fields of a streamed Chat Completions chunk that feedloop reads. */
interface CompletionChunk {
  id?: string;
  model?: string;
  usage?: Record<string, unknown> | null;
  choices?: { delta?: { content?: string | null }; finish_reason?: string | null }[];
  error?: { message?: unknown };
}

// The longest event the parser holds before the answer counts as malformed.
const MAX_EVENT_CHARS = 4 * 1024 * 1024;

const DECODE_STREAMING: TextDecodeOptions = { stream: true };

/**
 * Reads an answer's server-sent events, one network chunk of its body at a time, into `take`: each
 * event's data parsed as JSON, up to `[DONE]`. An event whose `take` returns a promise holds the
 * next one back until it settles, and so does the returned promise the next network chunk (the
 * caller pauses the body), so a consumer that waits holds the upstream back. After `[DONE]` the
 * rest is read to its end, so the connection can be kept for the next request. Throws (or
 * rejects) UpstreamBadAnswer when the answer is malformed.
 */
function completionChunkReader(
  take: (chunk: CompletionChunk) => Promise<void> | undefined,
): (part: Buffer) => Promise<void> | undefined {
  let done = false;
  let failure: UpstreamBadAnswer | null = null;
  // What `take` asked to wait for while a network chunk was parsed, and the events that came after it.
  let waiting: Promise<void> | undefined;
  let backlog: string[] | null = null;
  const takeData = (data: string): Promise<void> | undefined => {
    if (data === '[DONE]') {
      done = true;
      return undefined;
    }
    let chunk: CompletionChunk;
    try {
      chunk = JSON.parse(data) as CompletionChunk;
    } catch {
      throw new UpstreamBadAnswer(`an event is not JSON: ${data.slice(0, 200)}`);
    }
    if (chunk.error)
      throw new UpstreamBadAnswer(
        `an error event: ${typeof chunk.error.message === 'string' ? chunk.error.message : JSON.stringify(chunk.error)}`,
      );
    return take(chunk);
  };
  const takeBacklog = (events: string[], from: number): Promise<void> | undefined => {
    for (let i = from; i < events.length && !done; i++) {
      const wait = takeData(events[i]!);
      if (wait) return wait.then(() => takeBacklog(events, i + 1));
    }
    return undefined;
  };
  let malformed: string | null = null;
  const parser = createParser({
    // Taken as parsed, unless an earlier event of the chunk is still waited for.
    onEvent: (event) => {
      if (done || failure) return;
      if (waiting) {
        (backlog ??= []).push(event.data);
        return;
      }
      try {
        waiting = takeData(event.data);
      } catch (err) {
        failure = err as UpstreamBadAnswer;
      }
    },
    onError: (err) => (malformed ??= err.message),
    maxBufferSize: MAX_EVENT_CHARS,
  });
  const decoder = new TextDecoder();
  return (part) => {
    if (done) return undefined;
    parser.feed(decoder.decode(part, DECODE_STREAMING));
    if (failure) throw failure;
    if (malformed) throw new UpstreamBadAnswer(`its event stream broke off: ${malformed}`);
    const wait = waiting;
    const later = backlog;
    waiting = undefined;
    backlog = null;
    return later ? wait!.then(() => takeBacklog(later, 0)) : wait;
  };
}

export class OpenAiCompatibleProvider implements ModelProvider {
  readonly kind = 'openai' as const;

  constructor(
    private readonly timeouts: UpstreamTimeouts,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  async prepare(version: ModelVersion, _messages: ChatMessage[], _longPrompt: 'reject' | 'truncate') {
    // The key must be there before anything is stored; the upstream itself checks the context.
    upstreamKey(upstreamTarget(version), this.env);
  }

  generate(version: ModelVersion, input: GenerationInput, options: { signal?: AbortSignal }): ProviderStream {
    const controller = new AbortController();
    const cancel = () => controller.abort(new Error('cancelled'));
    return pushStream(async (push) => {
      const target = upstreamTarget(version);
      const key = upstreamKey(target, this.env);
      const timers: NodeJS.Timeout[] = [];
      const deadline = (phase: Phase, ms: number) => {
        const timer = setTimeout(() => controller.abort(new UpstreamTimeout(phase, ms)), ms);
        timers.push(timer);
        return timer;
      };
      const connectTimer = deadline('connect', this.timeouts.connectMs);
      const firstTokenTimer = deadline('firstToken', this.timeouts.firstTokenMs);
      deadline('total', this.timeouts.totalMs);
      const onClientGone = () => cancel();
      if (options.signal?.aborted) cancel();
      else options.signal?.addEventListener('abort', onClientGone, { once: true });

      let text = '';
      let finish: string | null = null;
      const report: NonNullable<ProviderCompletion['upstream']> = {
        model: null,
        responseId: null,
        usage: null,
      };
      try {
        let firstToken = true;
        const read = completionChunkReader((chunk) => {
          report.responseId ??= chunk.id || null;
          report.model ??= chunk.model || null;
          if (chunk.usage) report.usage = chunk.usage;
          const choice = chunk.choices?.[0];
          if (choice?.finish_reason) finish = choice.finish_reason;
          const delta = choice?.delta?.content;
          if (!delta) return undefined;
          if (firstToken) {
            firstToken = false;
            clearTimeout(firstTokenTimer);
          }
          text += delta;
          // A promise while the reader is behind: the upstream is read no faster than the client reads.
          return push({ delta });
        });
        await streamUpstream(
          target,
          key,
          '/chat/completions',
          {
            model: target.model,
            messages: input.messages.map((m) => ({ role: m.role, content: m.content })),
            stream: true,
            stream_options: { include_usage: true },
            ...upstreamParams(input.options),
          },
          controller.signal,
          () => clearTimeout(connectTimer),
          read,
        );
      } catch (err) {
        // An abort rejects the request or the body's read; whether a timeout or a cancel is told below.
        if (!controller.signal.aborted) throw upstreamFailure(err, target, key);
      } finally {
        for (const timer of timers) clearTimeout(timer);
        options.signal?.removeEventListener('abort', onClientGone);
      }
      // A timeout is a failure, a cancel an aborted answer.
      const reason: unknown = controller.signal.reason;
      if (controller.signal.aborted && reason instanceof UpstreamTimeout)
        throw upstreamFailure(reason, target, key);
      const usage = report.usage;
      const count = (field: string) => (typeof usage?.[field] === 'number' ? (usage[field] as number) : null);
      return {
        text,
        finishReason: controller.signal.aborted ? 'aborted' : finish === 'length' ? 'length' : 'stop',
        promptTokens: count('prompt_tokens'),
        completionTokens: count('completion_tokens'),
        upstream: report,
      };
    }, cancel);
  }
}

/**
 * The log-probability of every token of `text` as the upstream's model reads it, with each token's
 * character offset: OpenAI's legacy Completions API with `echo` and `logprobs` (vLLM answers it;
 * servers without prompt log-probabilities refuse or leave them out, and this throws). The first
 * token has none (null).
 */
export async function promptLogProbs(
  target: UpstreamTarget,
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  text: string,
  signal?: AbortSignal,
): Promise<{ logprobs: (number | null)[]; offsets: number[] }> {
  const key = upstreamKey(target, env);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new UpstreamTimeout('total', timeoutMs)), timeoutMs);
  const onCallerGone = () => controller.abort(signal?.reason);
  if (signal?.aborted) onCallerGone();
  else signal?.addEventListener('abort', onCallerGone, { once: true });
  let answer: { choices?: { logprobs?: { token_logprobs?: (number | null)[]; text_offset?: number[] } }[] };
  try {
    const response = await postUpstream(
      target,
      key,
      '/completions',
      { model: target.model, prompt: text, max_tokens: 1, temperature: 0, echo: true, logprobs: 1 },
      controller.signal,
    );
    const body = await response.text();
    try {
      answer = JSON.parse(body) as typeof answer;
    } catch {
      throw new UpstreamBadAnswer(`its answer is not JSON: ${body.slice(0, 200)}`);
    }
  } catch (err) {
    const reason: unknown = controller.signal.reason;
    throw upstreamFailure(reason instanceof UpstreamTimeout ? reason : err, target, key);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onCallerGone);
  }
  const logprobs = answer.choices?.[0]?.logprobs;
  if (!logprobs?.token_logprobs?.length || logprobs.text_offset?.length !== logprobs.token_logprobs.length)
    throw new AppError('upstream_error', 'the upstream sent no prompt log-probabilities with its answer');
  return { logprobs: logprobs.token_logprobs, offsets: logprobs.text_offset };
}

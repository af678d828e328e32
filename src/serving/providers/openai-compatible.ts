// The `openai` provider: a version served by any OpenAI-compatible Chat Completions server (vLLM,
// Ollama, TGI, llama.cpp, a hosted API), called with the official `openai` client. Every request
// streams from the upstream (also for a client that asked for one JSON answer), asking for usage
// in the last chunk, so tokens pass through as they arrive, the first-token timeout can be told
// apart from the whole answer's, and a client that goes away aborts the upstream request.
//
// The API key is read from the environment variable the version names, at request time; it is
// never stored, and it is cut out of every message that leaves this module.
import OpenAI from 'openai';
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

export function upstreamTarget(version: ModelVersion): UpstreamTarget {
  if (version.provider !== 'openai' || !version.baseUrl || !version.upstreamModel)
    throw new Error(`model version ${version.name} is not an upstream version`);
  return {
    baseUrl: version.baseUrl,
    model: version.upstreamModel,
    apiKeyEnv: version.apiKeyEnv,
    headers: upstreamHeaders.nullable().parse(version.upstreamHeaders) ?? {},
  };
}

/**
 * An `openai` client for one upstream, with the key read from the environment now. No retries (a
 * retried generation would be a second answer), nothing read from OPENAI_* variables, no SDK logs.
 */
export function upstreamClient(
  target: UpstreamTarget,
  env: NodeJS.ProcessEnv,
  totalMs: number,
): { client: OpenAI; key: string | null } {
  let key: string | null = null;
  if (target.apiKeyEnv) {
    key = env[target.apiKeyEnv] || null;
    if (!key)
      throw new AppError(
        'upstream_error',
        `The upstream's API key is missing: the environment variable ${target.apiKeyEnv} is not set in the API process`,
        { param: 'model' },
      );
  }
  const client = new OpenAI({
    baseURL: target.baseUrl,
    apiKey: key ?? 'no-key',
    adminAPIKey: null,
    organization: null,
    project: null,
    webhookSecret: null,
    maxRetries: 0,
    timeout: totalMs,
    logLevel: 'off',
    // Without a key no Authorization header is sent at all.
    defaultHeaders: { ...target.headers, ...(key ? {} : { Authorization: null }) },
  });
  return { client, key };
}

/** The cause of a failed fetch, in words without secrets ("ECONNREFUSED"). */
function connectionCause(err: unknown): string {
  let cause: unknown = err;
  for (let i = 0; i < 4 && cause; i++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    cause = (cause as { cause?: unknown }).cause;
  }
  return 'connection failed';
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
  if (err instanceof OpenAI.APIConnectionTimeoutError)
    return new AppError('upstream_timeout', `${where} did not answer in time`, { phase: 'total' });
  if (err instanceof OpenAI.APIConnectionError)
    return new AppError('upstream_error', `Could not reach ${where}: ${connectionCause(err)}`, {
      upstreamStatus: null,
    });
  if (err instanceof OpenAI.APIError) {
    const status = typeof err.status === 'number' ? err.status : null;
    const said = redact(err.message, key).slice(0, 500);
    return new AppError(
      'upstream_error',
      status ? `${where} answered ${status}: ${said}` : `${where} failed: ${said}`,
      { upstreamStatus: status },
    );
  }
  const message = err instanceof Error ? err.message : String(err);
  return new AppError('upstream_error', `${where} failed: ${redact(message, key).slice(0, 500)}`, {
    upstreamStatus: null,
  });
}

export class OpenAiCompatibleProvider implements ModelProvider {
  readonly kind = 'openai' as const;
  /**
   * Each version's client, kept while its target and key stay the same (the key is still read from
   * the environment on every request): building one per request cost CPU before every first token.
   */
  private readonly clients = new Map<string, { signature: string; client: OpenAI; key: string | null }>();

  constructor(
    private readonly timeouts: UpstreamTimeouts,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  private clientFor(version: ModelVersion): { target: UpstreamTarget; client: OpenAI; key: string | null } {
    const target = upstreamTarget(version);
    const key = target.apiKeyEnv ? this.env[target.apiKeyEnv] || null : null;
    const signature = JSON.stringify([target, key]);
    const kept = this.clients.get(version.id);
    if (kept?.signature === signature) return { target, client: kept.client, key: kept.key };
    const made = upstreamClient(target, this.env, this.timeouts.totalMs);
    this.clients.set(version.id, { signature, ...made });
    return { target, ...made };
  }

  async prepare(version: ModelVersion, _messages: ChatMessage[], _longPrompt: 'reject' | 'truncate') {
    // The key must be there before anything is stored; the upstream itself checks the context.
    this.clientFor(version);
  }

  generate(version: ModelVersion, input: GenerationInput, options: { signal?: AbortSignal }): ProviderStream {
    const controller = new AbortController();
    const cancel = () => controller.abort(new Error('cancelled'));
    return pushStream(async (push) => {
      const { target, client, key } = this.clientFor(version);
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
        const stream = await client.chat.completions.create(
          {
            model: target.model,
            messages: input.messages.map((m) => ({ role: m.role, content: m.content })),
            stream: true,
            stream_options: { include_usage: true },
            ...upstreamParams(input.options),
          },
          { signal: controller.signal },
        );
        clearTimeout(connectTimer);
        for await (const chunk of stream) {
          report.responseId ??= chunk.id || null;
          report.model ??= chunk.model || null;
          if (chunk.usage) report.usage = chunk.usage as unknown as Record<string, unknown>;
          const choice = chunk.choices[0];
          if (choice?.finish_reason) finish = choice.finish_reason;
          const delta = choice?.delta?.content;
          if (delta) {
            clearTimeout(firstTokenTimer);
            text += delta;
            // Waits while the reader is behind: the upstream is read no faster than the client reads.
            await push({ delta });
          }
        }
      } catch (err) {
        // The SDK throws an abort error when the request is aborted before the stream starts.
        if (!controller.signal.aborted) throw upstreamFailure(err, target, key);
      } finally {
        for (const timer of timers) clearTimeout(timer);
        options.signal?.removeEventListener('abort', onClientGone);
      }
      // An abort ends the SDK's iteration quietly: a timeout is a failure, a cancel an aborted answer.
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
  const { client, key } = upstreamClient(target, env, timeoutMs);
  const response = await client.completions
    .create(
      { model: target.model, prompt: text, max_tokens: 1, temperature: 0, echo: true, logprobs: 1 },
      { signal },
    )
    .catch((err: unknown) => {
      throw upstreamFailure(err, target, key);
    });
  const logprobs = response.choices[0]?.logprobs;
  if (!logprobs?.token_logprobs?.length || logprobs.text_offset?.length !== logprobs.token_logprobs.length)
    throw new AppError('upstream_error', 'the upstream sent no prompt log-probabilities with its answer');
  return { logprobs: logprobs.token_logprobs as (number | null)[], offsets: logprobs.text_offset };
}

// An upstream (provider `openai`) version as evaluation sees it: greedy answers through the
// provider's chat completions, and log-probabilities through the Completions API's `echo` and
// `logprobs` where the upstream returns them (vLLM does). Whether it does is asked once, up front;
// without them perplexity, preference accuracy and the stereotype probe are reported as not
// available, never as 0.
import type { ModelVersion } from '../generated/prisma/client.ts';
import type { ChatMessage } from '../llm/chat-format.ts';
import {
  OpenAiCompatibleProvider,
  promptLogProbs,
  upstreamTarget,
  type UpstreamTimeouts,
} from '../serving/providers/openai-compatible.ts';
import type { EvaluatedModel, LogProbScorer, SequenceScore } from './model-scoring.ts';

/**
 * The chat prompt as plain text, for scoring a reply through the Completions API (which takes no
 * messages, so the upstream's own chat template cannot be applied).
 */
export function plainChatPrompt(messages: ChatMessage[]): string {
  return `${messages.map((m) => `${m.role === 'user' ? 'User' : m.role === 'assistant' ? 'Assistant' : 'System'}: ${m.content}`).join('\n')}\nAssistant: `;
}

export async function upstreamEvaluatedModel(
  version: ModelVersion,
  options: { timeouts: UpstreamTimeouts; env?: NodeJS.ProcessEnv; signal?: AbortSignal },
): Promise<EvaluatedModel> {
  const env = options.env ?? process.env;
  const target = upstreamTarget(version);
  const provider = new OpenAiCompatibleProvider(options.timeouts, env);
  const score = async (text: string, from: number): Promise<SequenceScore> => {
    const { logprobs, offsets } = await promptLogProbs(
      target,
      env,
      options.timeouts.totalMs,
      text,
      options.signal,
    );
    let logProb = 0;
    let tokens = 0;
    logprobs.forEach((lp, i) => {
      // Only the prompt's own tokens after `from` (echo also returns the one generated token).
      if (lp === null || offsets[i]! < from || offsets[i]! >= text.length) return;
      logProb += lp;
      tokens += 1;
    });
    return { logProb, tokens };
  };
  const each = async <T>(
    items: T[],
    fn: (item: T) => Promise<SequenceScore>,
    between?: () => Promise<void>,
  ) => {
    const out: SequenceScore[] = [];
    for (const item of items) {
      out.push(await fn(item));
      await between?.();
    }
    return out;
  };
  const scorer: LogProbScorer = {
    documents: (texts, between) => each(texts, (t) => score(t, 0), between),
    replies: (items, between) =>
      each(
        items,
        (item) => {
          const prompt = plainChatPrompt(item.prompt);
          return score(prompt + item.reply, prompt.length);
        },
        between,
      ),
    continuations: (items, between) =>
      each(items, (item) => score(item.prefix + item.rest, item.prefix.length), between),
  };
  let logProbs: EvaluatedModel['logProbs'] = scorer;
  try {
    await score('The capital of France is Paris.', 0);
  } catch (err) {
    logProbs = {
      unavailable: `${target.baseUrl} gave no prompt log-probabilities (the Completions API with echo and logprobs, as vLLM serves it): ${(err as Error).message}`,
    };
  }
  return {
    name: version.name,
    dir: `${target.baseUrl} ${target.model}`,
    provider: 'openai',
    parameters: null,
    manifest: { provider: 'openai', baseUrl: target.baseUrl, model: target.model },
    backend: 'upstream',
    logProbs,
    async greedyAnswer(messages, maxTokens) {
      const stream = provider.generate(
        version,
        { messages, options: { temperature: 0, maxTokens, seed: 0 } },
        { signal: options.signal },
      );
      const completion = await stream.result;
      options.signal?.throwIfAborted();
      return completion.text.trim();
    },
  };
}

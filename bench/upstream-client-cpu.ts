// CPU that the upstream provider spends per streamed completion: COUNT 8-token completions, CONCURRENCY
// at a time, through OpenAiCompatibleProvider against bench/fixed-rate-upstream.ts in a child
// process (so the upstream's CPU is not counted), measured with process.cpuUsage.
//   npx tsx bench/upstream-client-cpu.ts [provider module, default src/serving/providers/openai-compatible.ts]
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ModelVersion } from '../src/generated/prisma/client.ts';
import type { OpenAiCompatibleProvider } from '../src/serving/providers/openai-compatible.ts';
import { endChild, forkBenchChild, nextMessage } from './bench-child.ts';

const COUNT = 200;
const WARMUP = 40;
const CONCURRENCY = 16;
const TOKENS = 8;

const modulePath = path.resolve(process.argv[2] ?? 'src/serving/providers/openai-compatible.ts');
const { OpenAiCompatibleProvider: Provider } = (await import(pathToFileURL(modulePath).href)) as {
  OpenAiCompatibleProvider: typeof OpenAiCompatibleProvider;
};

const child = forkBenchChild(new URL('./fixed-rate-upstream.ts', import.meta.url));
try {
  const { baseUrl } = await nextMessage<{ baseUrl: string }>(child);
  const version = {
    id: 'bench',
    name: 'bench',
    provider: 'openai',
    baseUrl,
    upstreamModel: 'fixed-rate',
    apiKeyEnv: null,
    upstreamHeaders: null,
  } as unknown as ModelVersion;
  const provider = new Provider({ connectMs: 10_000, firstTokenMs: 10_000, totalMs: 60_000 });
  const one = async () => {
    const stream = provider.generate(
      version,
      { messages: [{ role: 'user', content: 'Say something.' }], options: { maxTokens: TOKENS } },
      {},
    );
    let deltas = 0;
    for await (const _event of stream) deltas++;
    const completion = await stream.result;
    if (completion.completionTokens !== TOKENS || deltas !== TOKENS)
      throw new Error(`expected ${TOKENS} tokens, got ${deltas} (${completion.completionTokens} reported)`);
  };
  const run = async (count: number) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next++ < count) await one();
      }),
    );
  };
  await run(WARMUP);
  const start = process.cpuUsage();
  const began = performance.now();
  await run(COUNT);
  const cpu = process.cpuUsage(start);
  const ms = (cpu.user + cpu.system) / 1000;
  process.stdout.write(
    `${path.relative(process.cwd(), modulePath)}: ${(ms / COUNT).toFixed(3)} ms CPU per completion ` +
      `(user ${(cpu.user / 1000 / COUNT).toFixed(3)}, system ${(cpu.system / 1000 / COUNT).toFixed(3)}; ` +
      `${COUNT} completions, ${CONCURRENCY} at a time, ${((performance.now() - began) / 1000).toFixed(1)} s)\n`,
  );
} finally {
  await endChild(child);
}

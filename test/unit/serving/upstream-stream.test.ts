// What the upstream provider sends and how it reads the upstream's event stream, against a raw
// local HTTP server: the request body and key, what it records from the answer, and an answer that
// breaks the protocol (an event that is not JSON, an error event) as a 502, never a crash.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ModelVersion } from '../../../src/generated/prisma/client.ts';
import { AppError } from '../../../src/platform/errors/app-error.ts';
import { OpenAiCompatibleProvider } from '../../../src/serving/providers/openai-compatible.ts';

const KEY_ENV = 'FEEDLOOP_UNIT_UPSTREAM_KEY';

interface Seen {
  url: string;
  authorization: string | undefined;
  body: Record<string, unknown>;
}

let server: Server;
let baseUrl: string;
const seen: Seen[] = [];
// What the server answers with: the raw text of the event stream after its headers.
let answer = '';
// How long after the first half of it the server sends the rest.
let restAfterMs = 5;

const event = (data: unknown) => `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
const chunk = (content: string, extra: Record<string, unknown> = {}) =>
  event({ id: 'chatcmpl-1', model: 'served-m', choices: [{ index: 0, delta: { content } }], ...extra });

before(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const parts: Buffer[] = [];
    req.on('data', (part: Buffer) => parts.push(part));
    req.on('end', () => {
      seen.push({
        url: req.url ?? '',
        authorization: req.headers.authorization,
        body: JSON.parse(Buffer.concat(parts).toString('utf8')) as Record<string, unknown>,
      });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // Split mid-event, as a network would.
      const cut = Math.floor(answer.length / 2);
      res.write(answer.slice(0, cut));
      const rest = answer.slice(cut);
      setTimeout(() => res.end(rest), restAfterMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

const version = (apiKeyEnv: string | null) =>
  ({
    id: 'v1',
    name: 'up',
    provider: 'openai',
    baseUrl,
    upstreamModel: 'm',
    apiKeyEnv,
    upstreamHeaders: { 'x-tenant': 'feedloop' },
  }) as unknown as ModelVersion;

const timeouts = { connectMs: 5_000, firstTokenMs: 5_000, totalMs: 10_000 };

describe('the upstream provider', () => {
  test('sends the messages, sampling options, usage request and the key read per request; records id, model and usage', async () => {
    const env: NodeJS.ProcessEnv = { [KEY_ENV]: 'first-key' };
    const provider = new OpenAiCompatibleProvider(timeouts, env);
    answer =
      event({
        id: 'chatcmpl-1',
        model: 'served-m',
        choices: [{ index: 0, delta: { role: 'assistant', content: '' } }],
      }) +
      chunk('Hel') +
      chunk('lo', { choices: [{ index: 0, delta: { content: 'lo' }, finish_reason: 'length' }] }) +
      event({
        id: 'chatcmpl-1',
        model: 'served-m',
        choices: [],
        usage: { prompt_tokens: 3, completion_tokens: 2 },
      }) +
      event('[DONE]');
    const input = {
      messages: [{ role: 'user' as const, content: 'Hi' }],
      options: { maxTokens: 2, temperature: 0.5, topP: 0.9, stop: ['\n'], seed: 7, topK: 40 },
    };
    const stream = provider.generate(version(KEY_ENV), input, {});
    const deltas: string[] = [];
    for await (const e of stream) deltas.push(e.delta);
    const completion = await stream.result;
    assert.deepEqual(deltas, ['Hel', 'lo']);
    assert.deepEqual(completion, {
      text: 'Hello',
      finishReason: 'length',
      promptTokens: 3,
      completionTokens: 2,
      upstream: {
        model: 'served-m',
        responseId: 'chatcmpl-1',
        usage: { prompt_tokens: 3, completion_tokens: 2 },
      },
    });
    assert.equal(seen.at(-1)!.url, '/v1/chat/completions');
    assert.equal(seen.at(-1)!.authorization, 'Bearer first-key');
    assert.deepEqual(seen.at(-1)!.body, {
      model: 'm',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 2,
      temperature: 0.5,
      top_p: 0.9,
      stop: ['\n'],
      seed: 7,
      top_k: 40,
    });

    env[KEY_ENV] = 'second-key';
    await provider.generate(version(KEY_ENV), input, {}).result;
    assert.equal(seen.at(-1)!.authorization, 'Bearer second-key');
    await provider.generate(version(null), input, {}).result;
    assert.equal(seen.at(-1)!.authorization, undefined, 'no key, no Authorization header');
  });

  for (const [what, text, said] of [
    ['an event that is not JSON', chunk('Hel') + event('{"choices": [') + event('[DONE]'), /not JSON/],
    ['an error event', chunk('Hel') + event({ error: { message: 'out of memory' } }), /out of memory/],
  ] as const) {
    test(`${what} is a 502 upstream_error, after the text already passed on`, async () => {
      answer = text;
      const stream = new OpenAiCompatibleProvider(timeouts, {}).generate(
        version(null),
        { messages: [{ role: 'user', content: 'Hi' }], options: {} },
        {},
      );
      const deltas: string[] = [];
      await assert.rejects(
        async () => {
          for await (const e of stream) deltas.push(e.delta);
        },
        (err: unknown) =>
          err instanceof AppError &&
          err.code === 'upstream_error' &&
          said.test(err.message) &&
          /malformed/.test(err.message),
      );
      assert.deepEqual(deltas, ['Hel']);
      await assert.rejects(stream.result, AppError);
    });
  }

  test('a reader that waits on every token gets all the events of a network chunk, in order', async () => {
    answer = ['a', 'b', 'c', 'd', 'e', 'f'].map((c) => chunk(c)).join('') + event('[DONE]');
    const stream = new OpenAiCompatibleProvider(timeouts, {}).generate(
      version(null),
      { messages: [{ role: 'user', content: 'Hi' }], options: {} },
      {},
    );
    const deltas: string[] = [];
    const completion = await stream.deliver(async (e) => {
      deltas.push(e.delta);
      await new Promise((resolve) => setTimeout(resolve, 2));
    });
    assert.deepEqual(deltas, ['a', 'b', 'c', 'd', 'e', 'f']);
    assert.equal(completion.text, 'abcdef');
    assert.equal(completion.finishReason, 'stop');
  });

  test('an answer slower than the total timeout is a 504 upstream_timeout (total), after the text already passed on', async () => {
    // A comment pads the first half so that the cut falls after the first token.
    answer = chunk('Hel') + `:${' '.repeat(64)}\n\n` + chunk('lo') + event('[DONE]');
    restAfterMs = 1_000;
    try {
      const stream = new OpenAiCompatibleProvider({ ...timeouts, totalMs: 200 }, {}).generate(
        version(null),
        { messages: [{ role: 'user', content: 'Hi' }], options: {} },
        {},
      );
      const deltas: string[] = [];
      await assert.rejects(
        stream.deliver((e) => {
          deltas.push(e.delta);
        }),
        (err: unknown) =>
          err instanceof AppError &&
          err.code === 'upstream_timeout' &&
          (err.details as { phase?: string }).phase === 'total',
      );
      assert.deepEqual(deltas, ['Hel']);
    } finally {
      restAfterMs = 5;
    }
  });
});

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ModelServer, type WorkerEvent } from '../../../../src/serving/worker-pool/model-server.ts';
import { writeTinyModel } from '../../../helpers/llm.ts';

let server: ModelServer;
const dirA = writeTinyModel(31);
const dirB = writeTinyModel(32);

before(async () => {
  server = await ModelServer.start({ workers: 1, backend: 'wasm' });
  await server.load('a', dirA);
});
after(async () => {
  await server.close();
});

const chat = [{ role: 'user' as const, content: 'What is the capital of France?' }];

test('a chat completion streams deltas that add up to the result, with token counts', async () => {
  const stream = server.generate({ messages: chat, maxTokens: 12, temperature: 0.8, seed: 5 });
  let text = '';
  for await (const e of stream) text += e.delta;
  const result = await stream.result;
  assert.equal(result.text, text);
  assert.equal(result.versionId, 'a');
  assert.ok(result.promptTokens > 5);
  assert.ok(result.completionTokens >= 1 && result.completionTokens <= 12);
  assert.ok(['stop', 'length'].includes(result.finishReason));
});

test('cancellation frees the worker for the next request', async () => {
  const controller = new AbortController();
  // Greedy and far longer than it will be allowed to run.
  const long = server.generate(
    { prompt: 'The capital of', maxTokens: 4000, temperature: 0 },
    { signal: controller.signal },
  );
  for await (const _ of long) {
    controller.abort();
    break;
  }
  const cancelled = await long.result;
  assert.equal(cancelled.finishReason, 'aborted');
  assert.ok(cancelled.completionTokens < 4000);
  const [stats] = await server.stats();
  assert.equal(stats!.active, 0);
  assert.equal(stats!.aborted, 1);
  const next = await server.complete({ prompt: 'Paris', maxTokens: 5, temperature: 0 });
  assert.ok(['stop', 'length'].includes(next.finishReason));
});

test('concurrent requests interleave on one worker and all complete', async () => {
  const results = await Promise.all(
    [1, 2, 3].map((seed) => server.complete({ messages: chat, maxTokens: 8, temperature: 1, seed })),
  );
  for (const r of results) assert.ok(r.completionTokens >= 1);
});

test('cancelling one of several concurrent streams leaves the others their own text; tensors stay flat', async () => {
  const req = (seed: number) => ({ messages: chat, maxTokens: 24, temperature: 1, topK: 0, seed });
  const alone: string[] = [];
  for (const seed of [11, 12, 13]) alone.push((await server.complete(req(seed))).text);
  const [before] = await server.stats();
  const controller = new AbortController();
  const streams = [11, 12, 13].map((seed) =>
    server.generate(req(seed), seed === 12 ? { signal: controller.signal } : {}),
  );
  const texts = await Promise.all(
    streams.map(async (stream, i) => {
      let text = '';
      for await (const e of stream) {
        text += e.delta;
        if (i === 1) controller.abort();
      }
      return text;
    }),
  );
  const results = await Promise.all(streams.map((s) => s.result));
  assert.equal(results[1]!.finishReason, 'aborted');
  assert.ok(alone[1]!.startsWith(results[1]!.text));
  assert.equal(results[0]!.text, alone[0]);
  assert.equal(results[2]!.text, alone[2]);
  assert.deepEqual([texts[0], texts[2]], [alone[0], alone[2]]);
  const [after] = await server.stats();
  assert.equal(after!.active, 0);
  assert.equal(after!.numTensors, before!.numTensors);
});

test('switching the active version takes effect without a restart; requests can name a version', async () => {
  // Sampled with a fixed seed: random tiny models all fall into the same greedy loop.
  const req = { prompt: 'A dog is', maxTokens: 16, temperature: 1, topK: 0, seed: 9 };
  const fromA = await server.complete(req);
  await server.setActive('b', dirB);
  const fromB = await server.complete(req);
  assert.equal(fromB.versionId, 'b');
  assert.notEqual(fromB.text, fromA.text);
  const named = await server.complete({ ...req, versionId: 'a' });
  assert.equal(named.text, fromA.text);
  // Reloading a version id with another folder replaces its weights in place.
  await server.load('a', dirB);
  assert.equal((await server.complete({ ...req, versionId: 'a' })).text, fromB.text);
  assert.deepEqual(
    server
      .versions()
      .map((v) => v.versionId)
      .sort(),
    ['a', 'b'],
  );
});

test('asking for a missing version fails clearly', () => {
  assert.throws(() => server.generate({ prompt: 'x', versionId: 'nope' }), /not loaded/);
});

test('a worker thread that dies mid-answer is replaced: that answer fails with a clear error, later ones work', async () => {
  const events: WorkerEvent[] = [];
  const own = await ModelServer.start({ workers: 1, backend: 'wasm', onWorkerEvent: (e) => events.push(e) });
  try {
    await own.load('a', dirA);
    // Far longer than it will be allowed to run.
    const long = own.generate({ prompt: 'The capital of', maxTokens: 4000, minTokens: 4000, temperature: 0 });
    const tokens = long[Symbol.asyncIterator]();
    assert.equal((await tokens.next()).done, false, 'the answer is streaming');
    const exitCode = await own.threads[0]!.terminate();
    await assert.rejects(long.result, (err: Error & { code?: string }) => {
      assert.equal(err.code, 'unavailable');
      assert.match(err.message, new RegExp(`model worker stopped unexpectedly \\(exit code ${exitCode}\\)`));
      return true;
    });
    assert.deepEqual(
      events.map((e) => e.type === 'exited' && e.failedRequests),
      [1],
    );

    const next = await own.complete({ prompt: 'Paris', maxTokens: 5, temperature: 0 });
    assert.equal(next.versionId, 'a');
    assert.ok(next.completionTokens >= 1);
    assert.equal(own.restarts, 1);
    const stats = await own.stats();
    assert.equal(stats.length, 1);
    assert.deepEqual(stats[0]!.versions, ['a'], 'the new thread loaded the versions the old one held');
    assert.equal(stats[0]!.active, 0);
  } finally {
    await own.close();
  }
});

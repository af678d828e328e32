// The model worker thread dies while it answers (stopped the way a crash stops it): the answers it
// was generating end with a clear 503 error, a streamed one as its last event, instead of hanging;
// a new thread takes its place with the same model, and later completions work.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeUser, startTestApp, type TestApp, type TestUser } from '../../helpers/app.ts';
import { activateTinyModel } from '../../helpers/loop-runs.ts';

const LONG = { max_tokens: 2000, min_tokens: 2000, temperature: 0 };
const WORKER_DIED = /^The model worker stopped unexpectedly \(exit code \d+\); the answer was not finished/;

describe('the model worker thread killed', () => {
  let t: TestApp;
  let url: string;
  let user: TestUser;

  before(async () => {
    const modelDir = await mkdtemp(path.join(tmpdir(), 'feedloop-models-'));
    t = await startTestApp({ MODEL_DIR: modelDir, MODEL_BACKEND: 'wasm' });
    const close = t.close;
    t.close = async () => {
      await close();
      await rm(modelDir, { recursive: true, force: true });
    };
    await activateTinyModel(t);
    await t.app.servedModels.warm();
    url = await t.app.listen({ port: 0, host: '127.0.0.1' });
    user = await makeUser(t.app);
  });
  after(() => t?.close());

  const complete = (body: Record<string, unknown>) =>
    fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: user.auth, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'default',
        messages: [{ role: 'user', content: 'Name a capital.' }],
        ...body,
      }),
    });

  test('the answers in flight fail with a clear error and later completions work', async () => {
    const before = await complete({ max_tokens: 4, min_tokens: 4 });
    assert.equal(before.status, 200, await before.clone().text());

    // One streamed and one plain answer, both far longer than they will be allowed to run.
    const plain = complete(LONG);
    const streamed = await complete({ ...LONG, stream: true });
    assert.equal(streamed.status, 200);
    const reader = streamed.body!.pipeThrough(new TextDecoderStream()).getReader();
    let events = '';
    while (!/"content":"[^"]/.test(events)) {
      const { value, done } = await reader.read();
      assert.ok(!done, `the stream ended before a token: ${events}`);
      events += value;
    }

    const server = await t.app.servedModels.modelServer();
    assert.equal(server.threads.length, 1);
    await server.threads[0]!.terminate();

    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      events += value;
    }
    const last = JSON.parse(
      events
        .trim()
        .split('\n\n')
        .at(-1)!
        .replace(/^data: /, ''),
    );
    assert.equal(last.error.code, 'unavailable', events.slice(-500));
    assert.match(last.error.message, WORKER_DIED);
    const plainAnswer = await plain;
    assert.equal(plainAnswer.status, 503);
    const plainBody = (await plainAnswer.json()) as { error: { code: string; message: string } };
    assert.equal(plainBody.error.code, 'unavailable');
    assert.match(plainBody.error.message, WORKER_DIED);

    for (let i = 0; i < 3; i++) {
      const after = await complete({ max_tokens: 4, min_tokens: 4 });
      assert.equal(after.status, 200, await after.clone().text());
      const body = (await after.json()) as { usage: { completion_tokens: number } };
      assert.equal(body.usage.completion_tokens, 4, JSON.stringify(body));
    }
    assert.equal(server.restarts, 1);
    assert.equal(server.threads.length, 1);
  });
});

// The wire contract as both sides use it: timestamps survive JSON as Dates, socket frames parse
// back into what the server sent, and the sampling options have one set of bounds everywhere.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { isoDate } from '../../../src/contract/http.ts';
import { chatClientMessage, chatServerMessage } from '../../../src/contract/chat-socket.ts';
import { chatCompletionBody } from '../../../src/contract/completions.ts';
import { generationParams } from '../../../src/contract/conversations.ts';
import { loopServerMessage, type LoopServerMessage } from '../../../src/contract/loop.ts';
import { withStopList } from '../../../src/contract/sampling.ts';

/** What a browser gets: the server's value through JSON, then parsed with the contract. */
const overTheWire = <S extends z.ZodType>(schema: S, value: z.output<S>) =>
  schema.safeParse(JSON.parse(JSON.stringify(value)));

describe('timestamps', () => {
  test('a Date is ISO text on the wire and a Date again after parsing; other text is refused', () => {
    const at = new Date('2026-11-29T10:00:00.123Z');
    assert.equal(z.encode(isoDate, at), '2026-11-29T10:00:00.123Z');
    assert.equal(JSON.stringify({ at }), JSON.stringify({ at: z.encode(isoDate, at) }));
    assert.deepEqual(isoDate.parse('2026-11-29T10:00:00.123Z'), at);
    assert.equal(isoDate.safeParse('yesterday').success, false);
  });
});

describe('the loop socket', () => {
  const run = {
    id: '0b5f0f3e-3f7a-4d52-9a55-6f2f5d0c1a11',
    status: 'running',
    phase: 'training',
    trigger: 'manual',
    reason: null,
    createdAt: new Date('2026-11-29T10:00:00.000Z'),
    startedAt: new Date('2026-11-29T10:00:01.000Z'),
    finishedAt: null,
    datasetId: null,
    candidateVersionId: null,
    evaluateOnly: false,
    reportId: null,
    decision: null,
    error: null,
    trainingConfig: { methods: ['sft'] },
    datasetConfig: {},
  } satisfies Extract<LoopServerMessage, { type: 'run' }>['run'];

  test('run and progress frames parse back into what the server sent, dates included', () => {
    const frames: LoopServerMessage[] = [
      { type: 'ready' },
      { type: 'subscribed', runId: run.id },
      { type: 'run', run },
      {
        type: 'progress',
        point: {
          runId: run.id,
          at: new Date('2026-11-29T10:00:02.000Z'),
          phase: 'training',
          method: 'dpo',
          step: 3,
          totalSteps: 24,
          loss: 0.69,
          metrics: { margins: 0.1, accuracies: 0.5 },
        },
      },
    ];
    for (const frame of frames) {
      const parsed = overTheWire(loopServerMessage, frame);
      assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
      assert.deepEqual(parsed.data, frame);
    }
  });

  test('a frame the contract does not describe is refused', () => {
    assert.equal(loopServerMessage.safeParse({ type: 'progress', point: { runId: run.id } }).success, false);
    assert.equal(loopServerMessage.safeParse({ type: 'unknown' }).success, false);
  });
});

describe('the chat socket', () => {
  test('done and error frames parse; an unknown finish reason does not', () => {
    const done = {
      type: 'done',
      requestId: 'r1',
      messageId: 'm1',
      finishReason: 'aborted',
      usage: { promptTokens: 3, completionTokens: 4 },
      latencyMs: 12,
    } as const;
    assert.deepEqual(overTheWire(chatServerMessage, done).data, done);
    const error = { type: 'error', requestId: null, error: { code: 'invalid_json', message: 'x' } } as const;
    assert.deepEqual(overTheWire(chatServerMessage, error).data, error);
    assert.equal(chatServerMessage.safeParse({ ...done, finishReason: 'tired' }).success, false);
  });
});

describe('sampling options', () => {
  const socket = (options: Record<string, unknown>) =>
    chatClientMessage.safeParse({ type: 'generate', requestId: 'r', content: 'hi', options }).success;
  const completion = (fields: Record<string, unknown>) =>
    chatCompletionBody.safeParse({ messages: [{ role: 'user', content: 'hi' }], ...fields }).success;
  const logged = (params: Record<string, unknown>) => generationParams.safeParse(params).success;

  // [socket name, OpenAI name, value, accepted]
  const cases: Array<[string, string, unknown, boolean]> = [
    ['temperature', 'temperature', 2, true],
    ['temperature', 'temperature', 2.5, false],
    ['topP', 'top_p', 0, false],
    ['topP', 'top_p', 1, true],
    ['topK', 'top_k', 1000, true],
    ['topK', 'top_k', 1001, false],
    ['maxTokens', 'max_tokens', 2048, true],
    ['maxTokens', 'max_tokens', 2049, false],
    ['minTokens', 'min_tokens', -1, false],
    ['seed', 'seed', -1, false],
    ['stop', 'stop', 'END', true],
    ['stop', 'stop', ['a', 'b', 'c', 'd', 'e'], false],
    ['stop', 'stop', [''], false],
  ];

  test('the chat socket, the completions route and logged conversations accept the same values', () => {
    for (const [name, openAiName, value, accepted] of cases) {
      const label = `${name}=${JSON.stringify(value)}`;
      assert.equal(socket({ [name]: value }), accepted, `socket ${label}`);
      assert.equal(completion({ [openAiName]: value }), accepted, `completions ${label}`);
      assert.equal(logged({ [openAiName]: value }), accepted, `logged params ${label}`);
    }
  });

  test('the model gets stop sequences as a list', () => {
    assert.deepEqual(withStopList({ stop: 'END', temperature: 0 }), { stop: ['END'], temperature: 0 });
    assert.deepEqual(withStopList({ maxTokens: 8 }), { maxTokens: 8 });
  });
});

// A provider's stream waits for its reader: a generation that pushes faster than its reader takes
// is held back (so a slow client slows the upstream instead of its answer piling up in memory),
// while a caller that only wants the result, a cancel, or a reader that stops never leave it stuck.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { pushStream, type TokenEvent } from '../../../src/serving/providers/provider.ts';

const DELTA = 'x'.repeat(1024);
const MIB = 1024 * 1024;

/** A generation pushing `count` 1 KiB deltas, waiting on each push; `pushed` says how far it got. */
function generation(count: number) {
  const progress = { pushed: 0 };
  let cancelled = false;
  const stream = pushStream(
    async (push) => {
      for (let i = 0; i < count && !cancelled; i++) {
        await push({ delta: DELTA });
        progress.pushed += 1;
      }
      return {
        text: '',
        finishReason: cancelled ? 'aborted' : 'stop',
        promptTokens: null,
        completionTokens: null,
        upstream: null,
      };
    },
    () => (cancelled = true),
  );
  return { stream, progress };
}

/** Lets the generation run as far as it can. */
async function settle() {
  for (let i = 0; i < 50; i++) await nextTurn();
}

describe('pushStream', () => {
  test('a reader that stops taking deltas holds the generation back; taking them lets it finish', async () => {
    const { stream, progress } = generation(4096);
    const events = stream[Symbol.asyncIterator]();
    const first = await events.next();
    assert.equal(first.value?.delta, DELTA);
    await settle();
    assert.ok(progress.pushed < 1024, `pushed ${progress.pushed} KiB of 4 MiB to a reader taking nothing`);

    let taken = 1;
    for (let next = await events.next(); !next.done; next = await events.next()) taken += 1;
    assert.equal(taken, 4096);
    assert.equal((await stream.result).finishReason, 'stop');
  });

  test('a caller that only awaits the result is never waited for', async () => {
    const { stream, progress } = generation(4 * 1024);
    assert.equal((await stream.result).finishReason, 'stop');
    assert.equal(progress.pushed * DELTA.length, 4 * MIB);
  });

  test('a cancel frees a generation waiting for its reader', async () => {
    const { stream, progress } = generation(4096);
    await stream[Symbol.asyncIterator]().next();
    await settle();
    assert.ok(progress.pushed < 4096);
    stream.cancel();
    assert.equal((await stream.result).finishReason, 'aborted');
  });

  test('a reader that stops iterating frees the generation', async () => {
    const { stream } = generation(4096);
    const taken: TokenEvent[] = [];
    for await (const event of stream) {
      taken.push(event);
      if (taken.length === 3) break;
    }
    assert.equal((await stream.result).finishReason, 'stop');
  });
});

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

  test('delivered, every delta reaches the sink in order, those pushed before it first', async () => {
    const stream = pushStream(
      async (push) => {
        for (let i = 0; i < 6; i++) {
          const waiting = push({ delta: String(i) });
          if (waiting) await waiting;
          if (i === 2) await nextTurn();
        }
        return { text: '', finishReason: 'stop', promptTokens: null, completionTokens: null, upstream: null };
      },
      () => {},
    );
    const taken: string[] = [];
    const completion = await stream.deliver((event) => {
      taken.push(event.delta);
    });
    assert.deepEqual(taken, ['0', '1', '2', '3', '4', '5']);
    assert.equal(completion.finishReason, 'stop');
  });

  test("delivered, a sink's pending promise holds the generation until it settles", async () => {
    const { stream, progress } = generation(8);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let taken = 0;
    const delivered = stream.deliver(() => (++taken === 3 ? held : undefined));
    await settle();
    assert.equal(taken, 3);
    assert.equal(progress.pushed, 2);
    release();
    assert.equal((await delivered).finishReason, 'stop');
    assert.equal(taken, 8);
  });

  test('delivered, a sink that throws or rejects cancels the generation and fails the delivery', async () => {
    for (const fail of [
      () => {
        throw new Error('sink broke');
      },
      () => Promise.reject(new Error('sink broke')),
    ]) {
      const { stream, progress } = generation(4096);
      let taken = 0;
      await assert.rejects(
        stream.deliver(() => (++taken === 2 ? fail() : undefined)),
        /sink broke/,
      );
      assert.equal((await stream.result).finishReason, 'aborted');
      assert.ok(progress.pushed < 4096);
      assert.equal(taken, 2);
    }
  });

  test("delivered, the generation's failure fails the delivery", async () => {
    const stream = pushStream(
      async (push) => {
        push({ delta: 'a' });
        throw new Error('upstream broke');
      },
      () => {},
    );
    const taken: string[] = [];
    await assert.rejects(
      stream.deliver((event) => {
        taken.push(event.delta);
      }),
      /upstream broke/,
    );
    assert.deepEqual(taken, ['a']);
  });
});

// The external sort gives what a stable in-memory sort gives, also when there are more runs than
// it merges at once (it merges them into fewer first), and it never holds more than that many
// runs open at once.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { ExternalSorter } from '../../../src/datasets/external-sort.ts';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

interface Item {
  key: number;
  /** Where the item was added: equal keys must come out in this order. */
  at: number;
  text: string;
}

const byKey = (a: Item, b: Item) => a.key - b.key;

async function externalSort(items: Item[], runBytes: number, fanIn: number): Promise<Item[]> {
  const dir = await mkdtemp(path.join(tmpdir(), 'feedloop-sort-'));
  dirs.push(dir);
  const sorter = new ExternalSorter<Item>(path.join(dir, 'runs'), byKey, runBytes, fanIn);
  for (const item of items) await sorter.add(item);
  const out: Item[] = [];
  for await (const item of sorter.sorted()) out.push(item);
  await sorter.close();
  return out;
}

test('sorted() is a stable sort, with runs that take several merge passes', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 20 }), fc.string({ maxLength: 30 })), { maxLength: 400 }),
      fc.integer({ min: 2, max: 5 }),
      async (tuples, fanIn) => {
        const items = tuples.map(([key, text], at) => ({ key, at, text: `${text}\n\u00e9\u{1F600}` }));
        // About three items per run: hundreds of runs, merged fanIn at a time.
        const sorted = await externalSort(items, 120, fanIn);
        assert.deepEqual(sorted, [...items].sort(byKey));
      },
    ),
    { numRuns: 40 },
  );
});

test('the last merge reads at most fan-in runs, however many were written', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'feedloop-sort-'));
  dirs.push(dir);
  const runs = path.join(dir, 'runs');
  const sorter = new ExternalSorter<Item>(runs, byKey, 100, 4);
  const items = Array.from({ length: 2000 }, (_, at) => ({
    key: (at * 7919) % 1000,
    at,
    text: 'x'.repeat(40),
  }));
  for (const item of items) await sorter.add(item);
  assert.ok((await readdir(runs)).length > 500, 'many runs were written');
  const iterator = sorter.sorted()[Symbol.asyncIterator]();
  const first = await iterator.next();
  assert.equal((first.value as Item).key, 0);
  assert.ok((await readdir(runs)).length <= 4, 'the runs were merged down to the fan-in first');
  let count = 1;
  while (!(await iterator.next()).done) count++;
  assert.equal(count, items.length);
  await sorter.close();
});

// A stable external merge sort: items are buffered up to a budget of serialized bytes, each full
// buffer is sorted and written to a run file (one JSON line per item), and `sorted()` merges the
// runs. Memory holds one buffer while adding and one line per run while merging, whatever the
// number of items.
import { createReadStream } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';

/** Serialized bytes a sorter buffers before it writes a run. */
export const DEFAULT_RUN_BYTES = 2 << 20;

export class ExternalSorter<T> {
  private buffer: string[] = [];
  private buffered = 0;
  private runs: string[] = [];
  count = 0;

  /**
   * `dir` is created and holds the runs (removed by `close`); items are sorted in memory until
   * their JSON reaches `runBytes` characters.
   */
  constructor(
    private readonly dir: string,
    private readonly compare: (a: T, b: T) => number,
    private readonly runBytes = DEFAULT_RUN_BYTES,
  ) {}

  /** Items are kept as their JSON until a run is sorted: a string is far smaller than its object. */
  async add(item: T): Promise<void> {
    const line = JSON.stringify(item);
    this.buffer.push(line);
    this.buffered += line.length;
    this.count++;
    if (this.buffered >= this.runBytes) await this.spill();
  }

  private sortBuffer(): { item: T; line: string }[] {
    const entries = this.buffer.map((line) => ({ item: JSON.parse(line) as T, line }));
    this.buffer = [];
    return entries.sort((a, b) => this.compare(a.item, b.item));
  }

  private async spill(): Promise<void> {
    if (this.buffer.length === 0) return;
    const entries = this.sortBuffer();
    this.buffered = 0;
    await mkdir(this.dir, { recursive: true });
    const file = path.join(this.dir, `run-${this.runs.length}.jsonl`);
    let text = '';
    for (const { line } of entries) text += `${line}\n`;
    await writeFile(file, text);
    this.runs.push(file);
  }

  /** Every item added, in order (equal items in the order they were added). */
  async *sorted(): AsyncGenerator<T> {
    if (this.runs.length === 0) {
      for (const { item } of this.sortBuffer()) yield item;
      return;
    }
    await this.spill();
    const readers = this.runs.map((file) =>
      createInterface({ input: createReadStream(file), crlfDelay: Infinity })[Symbol.asyncIterator](),
    );
    const heads: (T | undefined)[] = await Promise.all(
      readers.map(async (r) => {
        const next = await r.next();
        return next.done ? undefined : (JSON.parse(next.value) as T);
      }),
    );
    for (;;) {
      let min = -1;
      for (let i = 0; i < heads.length; i++) {
        if (heads[i] !== undefined && (min === -1 || this.compare(heads[i]!, heads[min]!) < 0)) min = i;
      }
      if (min === -1) return;
      yield heads[min]!;
      const next = await readers[min]!.next();
      heads[min] = next.done ? undefined : (JSON.parse(next.value) as T);
    }
  }

  async close(): Promise<void> {
    this.buffer = [];
    await rm(this.dir, { recursive: true, force: true });
  }
}

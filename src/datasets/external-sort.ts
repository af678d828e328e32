// A stable external merge sort: items are buffered up to a budget of serialized bytes, each full
// buffer is sorted and written to a run file (one JSON line per item), and `sorted()` merges the
// runs, at most MERGE_FAN_IN at a time (more runs are first merged into fewer, longer ones). Memory
// holds one buffer while adding and one read chunk per merged run while merging, whatever the
// number of items.
import { open, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';

/** Serialized bytes a sorter buffers before it writes a run. */
export const DEFAULT_RUN_BYTES = 2 << 20;
/** Runs merged at once: each holds a read chunk, so a merge holds this many chunks. */
export const MERGE_FAN_IN = 16;
/** Bytes read from a run at a time. */
const READ_BYTES = 64 << 10;

/** A run file's lines, a chunk at a time; `line` is the current one (undefined at the end). */
class RunReader {
  private lines: string[] = [];
  private next = 0;
  private partial = '';
  private readonly decoder = new StringDecoder('utf8');
  private readonly chunk = Buffer.allocUnsafe(READ_BYTES);
  line: string | undefined;

  private constructor(
    private readonly handle: Awaited<ReturnType<typeof open>>,
    /** Where the run stands among those merged: equal items come out in run order. */
    readonly order: number,
  ) {}

  static async open(file: string, order: number): Promise<RunReader> {
    const reader = new RunReader(await open(file, 'r'), order);
    await reader.advance();
    return reader;
  }

  /** Moves to the next line, reading a chunk when the buffered lines are used up. */
  async advance(): Promise<void> {
    while (this.next >= this.lines.length) {
      const { bytesRead } = await this.handle.read(this.chunk, 0, READ_BYTES, null);
      if (bytesRead === 0) {
        const last = this.partial + this.decoder.end();
        this.partial = '';
        this.lines = last ? [last] : [];
        this.next = 0;
        if (!last) {
          this.line = undefined;
          return;
        }
        break;
      }
      const lines = (this.partial + this.decoder.write(this.chunk.subarray(0, bytesRead))).split('\n');
      this.partial = lines.pop()!;
      this.lines = lines;
      this.next = 0;
    }
    this.line = this.lines[this.next++];
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

/** A binary min-heap of run readers by their current item, then by run order (stability). */
class ReaderHeap<T> {
  private readonly items: { reader: RunReader; item: T }[] = [];

  constructor(private readonly compare: (a: T, b: T) => number) {}

  private less(i: number, j: number): boolean {
    const a = this.items[i]!;
    const b = this.items[j]!;
    const c = this.compare(a.item, b.item);
    return c < 0 || (c === 0 && a.reader.order < b.reader.order);
  }

  private swap(i: number, j: number): void {
    [this.items[i], this.items[j]] = [this.items[j]!, this.items[i]!];
  }

  get size(): number {
    return this.items.length;
  }

  peek(): { reader: RunReader; item: T } {
    return this.items[0]!;
  }

  push(reader: RunReader, item: T): void {
    this.items.push({ reader, item });
    for (let i = this.items.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** Replaces the top's item (its reader moved on), or drops the top when `item` is undefined. */
  replaceTop(item: T | undefined): void {
    if (item === undefined) {
      const last = this.items.pop()!;
      if (this.items.length === 0) return;
      this.items[0] = last;
    } else this.items[0]!.item = item;
    for (let i = 0; ;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let min = i;
      if (l < this.items.length && this.less(l, min)) min = l;
      if (r < this.items.length && this.less(r, min)) min = r;
      if (min === i) return;
      this.swap(i, min);
      i = min;
    }
  }
}

export class ExternalSorter<T> {
  private buffer: string[] = [];
  private buffered = 0;
  private runs: string[] = [];
  private created = 0;
  count = 0;

  /**
   * `dir` is created and holds the runs (removed by `close`); items are sorted in memory until
   * their JSON reaches `runBytes` characters.
   */
  constructor(
    private readonly dir: string,
    private readonly compare: (a: T, b: T) => number,
    private readonly runBytes = DEFAULT_RUN_BYTES,
    private readonly fanIn = MERGE_FAN_IN,
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

  private nextRunFile(): string {
    return path.join(this.dir, `run-${this.created++}.jsonl`);
  }

  private async spill(): Promise<void> {
    if (this.buffer.length === 0) return;
    const entries = this.sortBuffer();
    this.buffered = 0;
    await mkdir(this.dir, { recursive: true });
    const file = this.nextRunFile();
    let text = '';
    for (const { line } of entries) text += `${line}\n`;
    await writeFile(file, text);
    this.runs.push(file);
  }

  /** The lines of `files` merged in order, each with its item. */
  private async *merge(files: string[]): AsyncGenerator<{ item: T; line: string }> {
    const readers = await Promise.all(files.map((file, i) => RunReader.open(file, i)));
    try {
      const heap = new ReaderHeap<T>(this.compare);
      for (const reader of readers)
        if (reader.line !== undefined) heap.push(reader, JSON.parse(reader.line) as T);
      while (heap.size) {
        const { reader, item } = heap.peek();
        yield { item, line: reader.line! };
        await reader.advance();
        heap.replaceTop(reader.line === undefined ? undefined : (JSON.parse(reader.line) as T));
      }
    } finally {
      for (const reader of readers) await reader.close();
    }
  }

  /** Merges neighbouring runs `fanIn` at a time until at most `fanIn` are left (order is kept). */
  private async reduceRuns(): Promise<void> {
    while (this.runs.length > this.fanIn) {
      const merged: string[] = [];
      for (let i = 0; i < this.runs.length; i += this.fanIn) {
        const group = this.runs.slice(i, i + this.fanIn);
        if (group.length === 1) {
          merged.push(group[0]!);
          continue;
        }
        const file = this.nextRunFile();
        const handle = await open(file, 'w');
        try {
          let pending = '';
          for await (const { line } of this.merge(group)) {
            pending += `${line}\n`;
            if (pending.length >= READ_BYTES * 16) {
              await handle.write(pending);
              pending = '';
            }
          }
          if (pending) await handle.write(pending);
        } finally {
          await handle.close();
        }
        for (const run of group) await rm(run, { force: true });
        merged.push(file);
      }
      this.runs = merged;
    }
  }

  /** Every item added, in order (equal items in the order they were added). */
  async *sorted(): AsyncGenerator<T> {
    if (this.runs.length === 0) {
      for (const { item } of this.sortBuffer()) yield item;
      return;
    }
    await this.spill();
    await this.reduceRuns();
    for await (const { item } of this.merge(this.runs)) yield item;
  }

  async close(): Promise<void> {
    this.buffer = [];
    await rm(this.dir, { recursive: true, force: true });
  }
}

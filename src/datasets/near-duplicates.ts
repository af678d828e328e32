// Near-duplicate detection that does not compare every example with every kept one: an exact
// prefix-filter index over word-trigram shingles (AllPairs, Bayardo et al. 2007). Two texts whose
// Jaccard similarity reaches t share a shingle among the first |s| - ceil(t·|s|) + 1 shingles of
// each (in one global order, here by hash), so only kept texts indexed under those shingles are
// candidates, and each candidate is checked with the exact Jaccard. The result is what comparing
// against every kept text gives; the cost is per candidate, not per kept text.
//
// Any one order of shingles gives the exact result; rare shingles first gives few candidates (a
// common shingle first would make every text a candidate of every other). A streamed build counts
// shingles as examples arrive in a fixed-size count-min sketch (ShingleCounts) and orders by it.
//
// State per kept text: its shingle hashes (4 bytes each, in one typed array), its normalized text's
// digest (16 hex characters in a set) and one posting per prefix shingle (about a tenth of its
// shingles at t = 0.9). For a 60-word example that is about 0.4 KB, 0.4 GB per million kept
// examples at most; a build keeps far fewer distinct examples than it reads feedback rows, and the
// index of one format is dropped before the next format is read.
import { createHash } from 'node:crypto';
import { normalizeText } from '../suites/contamination.ts';

/** FNV-1a over the UTF-16 code units: a 32-bit shingle id (collisions merge two shingles). */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The word-trigram shingles of the normalized text, as sorted distinct 32-bit hashes. */
export function shingleHashes(normalized: string): Uint32Array {
  const words = normalized.split(' ').filter(Boolean);
  const shingles = new Set<number>();
  if (words.length < 3) shingles.add(hash32(words.join(' ')));
  else for (let i = 0; i + 3 <= words.length; i++) shingles.add(hash32(words.slice(i, i + 3).join(' ')));
  return Uint32Array.from(shingles).sort();
}

function sortedJaccard(a: Uint32Array, b: Uint32Array): number {
  let shared = 0;
  for (let i = 0, j = 0; i < a.length && j < b.length;) {
    if (a[i] === b[j]) {
      shared++;
      i++;
      j++;
    } else if (a[i]! < b[j]!) i++;
    else j++;
  }
  const union = a.length + b.length - shared;
  return union === 0 ? 1 : shared / union;
}

/**
 * Approximate shingle counts in fixed memory (a count-min sketch: 4 rows of 2^18 counters, 4 MB):
 * never below the true count, so rare shingles are known as rare.
 */
export class ShingleCounts {
  private readonly rows = Array.from({ length: 4 }, () => new Uint32Array(1 << 18));

  private slot(row: number, hash: number): number {
    return (Math.imul(hash ^ (row * 0x9e3779b9), 0x85ebca6b) >>> 14) & ((1 << 18) - 1);
  }

  add(text: string): void {
    for (const hash of shingleHashes(normalizeText(text))) {
      for (let r = 0; r < this.rows.length; r++) this.rows[r]![this.slot(r, hash)]!++;
    }
  }

  estimate(hash: number): number {
    let min = Infinity;
    for (let r = 0; r < this.rows.length; r++) min = Math.min(min, this.rows[r]![this.slot(r, hash)]!);
    return min;
  }
}

/** The number of a text's first shingles that any text at Jaccard >= threshold must share one of. */
function prefixLength(size: number, threshold: number): number {
  return size - Math.ceil(threshold * size - 1e-9) + 1;
}

/**
 * Kept texts, offered one at a time in priority order: `offer` keeps a text unless it is an exact
 * duplicate (after normalization) or a near-duplicate (word-trigram Jaccard >= threshold) of a kept
 * one.
 */
export class NearDuplicateIndex {
  private readonly exact = new Set<string>();
  /** Shingle hashes of every kept text, back to back; `starts[k]` is where kept text k begins. */
  private pool = new Uint32Array(1 << 16);
  private used = 0;
  private readonly starts: number[] = [];
  private readonly postings = new Map<number, number[]>();
  kept = 0;

  /** `rank` orders shingles for the prefix (lower first); by hash when absent. */
  constructor(
    private readonly threshold: number,
    private readonly rank?: (hash: number) => number,
  ) {}

  /** The shingles any near-duplicate must share one of: the first ones in rank order. */
  private prefixOf(shingles: Uint32Array): Uint32Array {
    const length = prefixLength(shingles.length, this.threshold);
    if (!this.rank) return shingles.subarray(0, length);
    const rank = this.rank;
    const ranked = Array.from(shingles, (h) => ({ h, r: rank(h) }));
    ranked.sort((a, b) => a.r - b.r || a.h - b.h);
    return Uint32Array.from(ranked.slice(0, length), (x) => x.h);
  }

  private shinglesOf(k: number): Uint32Array {
    return this.pool.subarray(this.starts[k]!, this.starts[k + 1] ?? this.used);
  }

  /** True (and the text is kept) unless it duplicates a kept text. */
  offer(text: string): boolean {
    const normalized = normalizeText(text);
    const digest = createHash('sha256').update(normalized).digest('hex').slice(0, 16);
    if (this.exact.has(digest)) return false;
    const shingles = shingleHashes(normalized);
    // At a threshold of 0, any two texts are near-duplicates: only the first one is kept.
    if (this.threshold <= 0 && this.kept > 0) return false;
    const prefix = this.prefixOf(shingles);
    const seen = new Set<number>();
    for (const token of prefix) {
      for (const k of this.postings.get(token) ?? []) {
        if (seen.has(k)) continue;
        seen.add(k);
        if (sortedJaccard(this.shinglesOf(k), shingles) >= this.threshold) return false;
      }
    }
    this.keep(digest, shingles, prefix);
    return true;
  }

  private keep(digest: string, shingles: Uint32Array, prefix: Uint32Array): void {
    this.exact.add(digest);
    while (this.used + shingles.length > this.pool.length) {
      const grown = new Uint32Array(this.pool.length * 2);
      grown.set(this.pool.subarray(0, this.used));
      this.pool = grown;
    }
    const k = this.kept++;
    this.starts.push(this.used);
    this.pool.set(shingles, this.used);
    this.used += shingles.length;
    for (const token of prefix) {
      const list = this.postings.get(token);
      if (list) list.push(k);
      else this.postings.set(token, [k]);
    }
  }
}

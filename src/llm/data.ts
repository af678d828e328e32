// Token streams for self-supervised training: documents joined by <|endoftext|>, sampled as
// random windows whose positions depend only on (seed, step), so a resumed run sees the same data.
import { deriveSeed, mulberry32 } from './rng.ts';

export interface WindowBatch {
  inputs: Int32Array;
  targets: Int32Array;
}

export function concatDocuments(docs: readonly number[][], separator: number): Int32Array {
  let total = 0;
  for (const d of docs) total += d.length + 1;
  const out = new Int32Array(total);
  let o = 0;
  for (const d of docs) {
    out.set(d, o);
    o += d.length;
    out[o++] = separator;
  }
  return out;
}

function fill(stream: Int32Array, starts: number[], seqLen: number): WindowBatch {
  const inputs = new Int32Array(starts.length * seqLen);
  const targets = new Int32Array(starts.length * seqLen);
  starts.forEach((s, b) => {
    inputs.set(stream.subarray(s, s + seqLen), b * seqLen);
    targets.set(stream.subarray(s + 1, s + seqLen + 1), b * seqLen);
  });
  return { inputs, targets };
}

/** Random windows for training step `step`. */
export function sampleWindows(
  stream: Int32Array,
  batchSize: number,
  seqLen: number,
  seed: number,
  step: number,
): WindowBatch {
  const span = stream.length - seqLen - 1;
  if (span <= 0)
    throw new Error(`token stream of ${stream.length} is shorter than a window of ${seqLen + 1}`);
  const rng = mulberry32(deriveSeed(seed, 'batch', step));
  const starts = Array.from({ length: batchSize }, () => Math.floor(rng() * span));
  return fill(stream, starts, seqLen);
}

/** Fixed, evenly spaced windows: the same validation batches at every evaluation. */
export function fixedWindows(
  stream: Int32Array,
  batchSize: number,
  seqLen: number,
  batchIndex: number,
  batches: number,
): WindowBatch {
  const span = stream.length - seqLen - 1;
  if (span <= 0)
    throw new Error(`token stream of ${stream.length} is shorter than a window of ${seqLen + 1}`);
  const total = batchSize * batches;
  const starts = Array.from({ length: batchSize }, (_, i) =>
    Math.floor(((batchIndex * batchSize + i) * span) / total),
  );
  return fill(stream, starts, seqLen);
}

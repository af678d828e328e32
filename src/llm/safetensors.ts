// Reads and writes the safetensors format: an 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets}, __metadata__}, then the raw little-endian tensor bytes.
// Portable: PyTorch, JAX and Rust tooling read these files directly.
import { readFileSync } from 'node:fs';
import { writeFileAtomicSync } from './atomic-file.ts';
import { bfloat16ToFloats, floatsToBfloat16, floatsToHalf, halfToFloats } from './half.ts';

/** Dtypes of tensors in memory: floats are always widened to F32. */
export type SafeDtype = 'F32' | 'I32';
export interface HostTensor {
  dtype: SafeDtype;
  shape: number[];
  data: Float32Array | Int32Array;
}

/** How float tensors are stored: F16 and BF16 halve the file; values are widened to F32 on read. */
export type FloatStorage = 'F32' | 'F16' | 'BF16';
export const FLOAT_STORAGES: readonly FloatStorage[] = ['F32', 'F16', 'BF16'];

interface HeaderEntry {
  /** Any dtype may appear in a file; only F32, F16, BF16 and I32 can be decoded. */
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

function stored(t: HostTensor, floats: FloatStorage): { dtype: string; data: ArrayBufferView } {
  if (t.dtype !== 'F32' || floats === 'F32') return t;
  const values = t.data as Float32Array;
  return floats === 'F16'
    ? { dtype: 'F16', data: floatsToHalf(values) }
    : { dtype: 'BF16', data: floatsToBfloat16(values) };
}

export function encodeSafetensors(
  input: Record<string, HostTensor>,
  metadata: Record<string, string> = {},
  floats: FloatStorage = 'F32',
): Buffer {
  const tensors: Record<string, { dtype: string; shape: number[]; data: ArrayBufferView }> = {};
  for (const [name, t] of Object.entries(input)) tensors[name] = { shape: t.shape, ...stored(t, floats) };
  const names = Object.keys(tensors).sort();
  const header: Record<string, HeaderEntry | Record<string, string>> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors[name]!;
    const bytes = t.data.byteLength;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the tensor data starts 8-byte aligned, as the format recommends.
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let pos = 8 + headerBytes.length;
  for (const name of names) {
    const t = tensors[name]!;
    Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).copy(out, pos);
    pos += t.data.byteLength;
  }
  return out;
}

export interface DecodedSafetensors {
  tensors: Record<string, HostTensor>;
  metadata: Record<string, string>;
  /** The dtype each decoded tensor had in the file (F16 and BF16 are widened in `tensors`). */
  dtypes: Record<string, string>;
}

export function decodeSafetensors(
  buf: Buffer,
  options: { skip?: (name: string) => boolean } = {},
): DecodedSafetensors {
  if (buf.length < 8) throw new Error('not a safetensors file: shorter than its header length');
  const headerLen = Number(buf.readBigUInt64LE(0));
  if (8 + headerLen > buf.length) throw new Error('not a safetensors file: header runs past the end');
  const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8')) as Record<
    string,
    HeaderEntry | Record<string, string>
  >;
  const base = 8 + headerLen;
  const out: DecodedSafetensors = { tensors: {}, metadata: {}, dtypes: {} };
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      out.metadata = entry as Record<string, string>;
      continue;
    }
    if (options.skip?.(name)) continue;
    const e = entry as HeaderEntry;
    const [start, end] = e.data_offsets;
    if (base + end > buf.length) throw new Error(`tensor ${name} runs past the end of the file`);
    // Copy so the typed array is aligned and independent of the file buffer.
    const bytes = new Uint8Array(end - start);
    bytes.set(buf.subarray(base + start, base + end));
    const shape = e.shape;
    if (e.dtype === 'F32') out.tensors[name] = { dtype: 'F32', shape, data: new Float32Array(bytes.buffer) };
    else if (e.dtype === 'F16')
      out.tensors[name] = { dtype: 'F32', shape, data: halfToFloats(new Uint16Array(bytes.buffer)) };
    else if (e.dtype === 'BF16')
      out.tensors[name] = { dtype: 'F32', shape, data: bfloat16ToFloats(new Uint16Array(bytes.buffer)) };
    else if (e.dtype === 'I32')
      out.tensors[name] = { dtype: 'I32', shape, data: new Int32Array(bytes.buffer) };
    else throw new Error(`unsupported safetensors dtype ${String(e.dtype)} for ${name}`);
    out.dtypes[name] = e.dtype;
  }
  return out;
}

/** Written to a temporary name, flushed and renamed, so a crash never leaves a half-written file. */
export function writeSafetensors(
  path: string,
  tensors: Record<string, HostTensor>,
  metadata: Record<string, string> = {},
  floats: FloatStorage = 'F32',
): void {
  writeFileAtomicSync(path, encodeSafetensors(tensors, metadata, floats));
}

export function readSafetensors(
  path: string,
  options: { skip?: (name: string) => boolean } = {},
): DecodedSafetensors {
  return decodeSafetensors(readFileSync(path), options);
}

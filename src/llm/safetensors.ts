// Reads and writes the safetensors format: an 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets}, __metadata__}, then the raw little-endian tensor bytes.
// Portable: PyTorch, JAX and Rust tooling read these files directly.
import { readFileSync } from 'node:fs';
import { writeFileAtomicSync } from './atomic-file.ts';
import { floatsToHalf, halfToFloats } from './half.ts';

export type SafeDtype = 'F32' | 'I32';
export interface HostTensor {
  dtype: SafeDtype;
  shape: number[];
  data: Float32Array | Int32Array;
}

/** How float tensors are stored: F16 halves the file; values are widened back to F32 on read. */
export type FloatStorage = 'F32' | 'F16';

interface HeaderEntry {
  dtype: SafeDtype | 'F16';
  shape: number[];
  data_offsets: [number, number];
}

export function encodeSafetensors(
  input: Record<string, HostTensor>,
  metadata: Record<string, string> = {},
  floats: FloatStorage = 'F32',
): Buffer {
  const tensors: Record<string, { dtype: HeaderEntry['dtype']; shape: number[]; data: ArrayBufferView }> = {};
  for (const [name, t] of Object.entries(input)) {
    tensors[name] =
      t.dtype === 'F32' && floats === 'F16'
        ? { dtype: 'F16', shape: t.shape, data: floatsToHalf(t.data as Float32Array) }
        : t;
  }
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

export function decodeSafetensors(buf: Buffer): {
  tensors: Record<string, HostTensor>;
  metadata: Record<string, string>;
} {
  const headerLen = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8')) as Record<
    string,
    HeaderEntry | Record<string, string>
  >;
  const base = 8 + headerLen;
  const tensors: Record<string, HostTensor> = {};
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as HeaderEntry;
    const [start, end] = e.data_offsets;
    // Copy so the typed array is aligned and independent of the file buffer.
    const bytes = new Uint8Array(end - start);
    bytes.set(buf.subarray(base + start, base + end));
    if (e.dtype === 'F32')
      tensors[name] = { dtype: 'F32', shape: e.shape, data: new Float32Array(bytes.buffer) };
    else if (e.dtype === 'F16')
      tensors[name] = { dtype: 'F32', shape: e.shape, data: halfToFloats(new Uint16Array(bytes.buffer)) };
    else if (e.dtype === 'I32')
      tensors[name] = { dtype: 'I32', shape: e.shape, data: new Int32Array(bytes.buffer) };
    else throw new Error(`unsupported safetensors dtype ${String(e.dtype)} for ${name}`);
  }
  return { tensors, metadata };
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

export function readSafetensors(path: string): {
  tensors: Record<string, HostTensor>;
  metadata: Record<string, string>;
} {
  return decodeSafetensors(readFileSync(path));
}

// Importing a GPT-2-family folder in the Hugging Face layout (gpt2, distilgpt2, DialoGPT, a
// user's own, a feedloop export) as a feedloop model folder: weights in F32, F16 or BF16, names
// with or without `transformer.`, mask buffers skipped, a tied lm_head checked, and feedloop's chat
// tokens added to a tokenizer that lacks them. Refusals are HfFormatErrors naming the field.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Tokenizer } from 'tokenizers';
import { SPECIAL_TOKEN_LIST } from './chat-format.ts';
import { readModelFolder, writeModelFolder } from './checkpoint.ts';
import type { ModelConfig } from './config.ts';
import { HfFormatError } from './hf-format.ts';
import { countParams } from './params.ts';
import type { FloatStorage, HostTensor } from './safetensors.ts';
import { TextTokenizer } from './tokenizer.ts';

export interface HfImportResult {
  config: ModelConfig;
  /** sha256 over the files the import read, each as its name, a NUL, then its bytes, in name order. */
  sourceSha256: string;
  /** The source's config.json as it was. */
  sourceConfig: Record<string, unknown>;
  /** Special tokens the source tokenizer lacked, added with new embedding rows. */
  addedTokens: string[];
  storedAs: FloatStorage;
  parameters: number;
  manifest: Record<string, unknown>;
}

export function hashFiles(dir: string, files: readonly string[]): string {
  const hash = createHash('sha256');
  for (const file of [...new Set(files)].sort()) {
    hash.update(file).update('\0');
    hash.update(readFileSync(join(dir, file)));
  }
  return hash.digest('hex');
}

interface TokenizerJson {
  added_tokens?: { id: number; content: string }[];
}

/**
 * Adds the chat tokens the tokenizer lacks, with ids after its last one; returns the new JSON and
 * the tokens added. The source's vocabulary must match the embedding rows (config vocab_size).
 */
function withChatTokens(json: string, vocabSize: number): { json: string; added: string[] } {
  let inner: Tokenizer;
  try {
    inner = Tokenizer.fromString(json);
  } catch (err) {
    throw new HfFormatError(
      'tokenizer.json',
      `cannot be read by Hugging Face tokenizers: ${(err as Error).message}`,
    );
  }
  const size = inner.getVocabSize(true);
  if (size !== vocabSize)
    throw new HfFormatError(
      'config.json vocab_size',
      `is ${vocabSize} but tokenizer.json has ${size} tokens: feedloop needs one embedding row per token`,
    );
  const missing = SPECIAL_TOKEN_LIST.filter((t) => typeof inner.tokenToId(t) !== 'number');
  if (missing.length === 0) return { json, added: [] };
  const parsed = JSON.parse(json) as TokenizerJson;
  parsed.added_tokens = [
    ...(parsed.added_tokens ?? []),
    ...missing.map((content, i) => ({
      id: size + i,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
  ];
  return { json: JSON.stringify(parsed), added: missing };
}

/** The embedding with `extra` rows appended, each the mean of the existing rows. */
function withMeanRows(wte: HostTensor, extra: number): HostTensor {
  const [rows, dim] = wte.shape as [number, number];
  const src = wte.data as Float32Array;
  const mean = new Float64Array(dim);
  for (let r = 0; r < rows; r++) for (let j = 0; j < dim; j++) mean[j]! += src[r * dim + j]!;
  const data = new Float32Array((rows + extra) * dim);
  data.set(src);
  for (let e = 0; e < extra; e++) for (let j = 0; j < dim; j++) data[(rows + e) * dim + j] = mean[j]! / rows;
  return { dtype: 'F32', shape: [rows + extra, dim], data };
}

/**
 * Imports the folder `src` into `dest` (which must not exist). The result is written into a
 * temporary sibling of `dest` and renamed at the end: a failed import leaves no folder behind.
 * With `confineTo`, every file read must really lie inside that folder (no symlinks out).
 */
export function importHfModel(
  src: string,
  dest: string,
  options: { confineTo?: string } = {},
): HfImportResult {
  if (existsSync(dest)) throw new Error(`${dest} exists; an import writes a new folder`);
  const folder = readModelFolder(src, { confineTo: options.confineTo });
  const { json, added } = withChatTokens(folder.tokenizerJson, folder.config.vocabSize);
  const tokenizer = new TextTokenizer(json);
  const config: ModelConfig = { ...folder.config, vocabSize: folder.config.vocabSize + added.length };
  const tensors = { ...folder.tensors };
  if (added.length) tensors['tok_emb'] = withMeanRows(folder.tensors['tok_emb']!, added.length);
  const sourceSha256 = hashFiles(src, folder.files);
  const manifest: Record<string, unknown> = {
    kind: 'feedloop-imported',
    importedAt: new Date().toISOString(),
    source: {
      dir: src,
      sha256: sourceSha256,
      files: [...new Set(folder.files)].sort(),
      config: folder.rawConfig,
      storedAs: folder.storedAs,
      // A feedloop export carries its own record: keep it, so lineage survives a round trip.
      ...(Object.keys(folder.manifest).length ? { feedloop: folder.manifest } : {}),
    },
    addedTokens: added,
    config,
    parameters: countParams(config),
  };
  const tmp = join(dirname(dest), `.${basename(dest)}.importing-${process.pid}-${Date.now()}`);
  try {
    writeModelFolder(tmp, { config, tensors, tokenizer, manifest }, { floats: folder.storedAs });
    renameSync(tmp, dest);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  return {
    config,
    sourceSha256,
    sourceConfig: folder.rawConfig,
    addedTokens: added,
    storedAs: folder.storedAs,
    parameters: countParams(config),
    manifest,
  };
}

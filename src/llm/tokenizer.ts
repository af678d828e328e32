// Byte-level BPE tokenizer: trained with Hugging Face `tokenizers`, stored as a standard
// tokenizer.json, and wrapped so the rest of the model code sees plain number arrays.
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BPE, Tokenizer, byteLevelAlphabet, byteLevelPreTokenizer, type Decoder } from 'tokenizers';
import { SPECIAL_TOKEN_LIST, SPECIAL_TOKENS } from './chat-format.ts';

export const TOKENIZER_FILE = 'tokenizer.json';

interface TrainedBpeJson {
  model: { vocab: Record<string, number>; merges: ([string, string] | string)[] };
}

/**
 * Trains a byte-level BPE with exactly `vocabSize` entries (special tokens + 256 bytes + merges).
 *
 * The Node binding exposes no trainer options (its trainer targets 30k entries), but BPE training is
 * greedy, so the first K merges of a longer run are the merges a K-merge run would learn: we train
 * once and keep the prefix. All 256 byte symbols are always present so no input is ever unknown.
 */
export function trainTokenizer(files: string[], vocabSize: number): string {
  const work = mkdtempSync(join(tmpdir(), 'feedloop-bpe-'));
  try {
    const trainer = new Tokenizer(BPE.empty());
    trainer.setPreTokenizer(byteLevelPreTokenizer(false, true));
    trainer.train(files);
    const trainedPath = join(work, 'trained.json');
    trainer.save(trainedPath, false);
    const trained = JSON.parse(readFileSync(trainedPath, 'utf8')) as TrainedBpeJson;
    return JSON.stringify(buildTokenizerJson(trained, vocabSize));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function buildTokenizerJson(trained: TrainedBpeJson, vocabSize: number): object {
  const vocab: Record<string, number> = {};
  let next = 0;
  const add = (token: string): boolean => {
    if (token in vocab) return false;
    vocab[token] = next++;
    return true;
  };
  for (const special of SPECIAL_TOKEN_LIST) add(special);
  for (const ch of [...byteLevelAlphabet()].sort()) add(ch);
  const merges: [string, string][] = [];
  for (const raw of trained.model.merges) {
    if (next >= vocabSize) break;
    const pair = (typeof raw === 'string' ? raw.split(' ') : raw) as [string, string];
    // Drop merges whose parts did not make the cut (cannot happen for a greedy prefix, but cheap to guard).
    if (!(pair[0] in vocab) || !(pair[1] in vocab)) continue;
    if (add(pair[0] + pair[1])) merges.push(pair);
  }
  const addedTokens = SPECIAL_TOKEN_LIST.map((content, id) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
}

/** The tokenizer as the model sees it: ids in, ids out, special ids by name. */
export class TextTokenizer {
  readonly vocabSize: number;
  readonly endOfTextId: number;
  readonly endId: number;
  readonly json: string;
  private readonly inner: Tokenizer;
  private readonly decoder: Decoder | null;
  private readonly specialIds: ReadonlySet<number>;

  constructor(json: string) {
    this.json = json;
    this.inner = Tokenizer.fromString(json);
    this.decoder = this.inner.getDecoder();
    this.specialIds = new Set(
      SPECIAL_TOKEN_LIST.map((t) => this.inner.tokenToId(t)).filter(
        (id): id is number => typeof id === 'number',
      ),
    );
    this.vocabSize = this.inner.getVocabSize(true);
    this.endOfTextId = this.requireId(SPECIAL_TOKENS.endOfText);
    this.endId = this.requireId(SPECIAL_TOKENS.end);
  }

  static fromFile(path: string): TextTokenizer {
    return new TextTokenizer(readFileSync(path, 'utf8'));
  }

  save(path: string): void {
    writeFileSync(path, this.json);
  }

  requireId(token: string): number {
    const id = this.inner.tokenToId(token);
    if (id === null || id === undefined) throw new Error(`tokenizer has no token ${token}`);
    return id;
  }

  async encode(text: string): Promise<number[]> {
    const enc = await this.inner.encode(text, null, { addSpecialTokens: false });
    return enc.getIds();
  }

  async encodeBatch(texts: string[]): Promise<number[][]> {
    const encs = await this.inner.encodeBatch(texts, { addSpecialTokens: false });
    return encs.map((e) => e.getIds());
  }

  /** Special tokens are kept unless asked: chat markup must survive a round trip. */
  async decode(ids: number[], skipSpecialTokens = false): Promise<string> {
    return this.inner.decode(ids, skipSpecialTokens);
  }

  /**
   * `decode(ids, true)` on the calling thread. Generation decodes its text after every token;
   * the async call is a thread-pool round trip per stream per token, which a busy machine delays.
   */
  decodeWithoutSpecials(ids: number[]): string {
    if (!this.decoder) throw new Error('tokenizer has no decoder');
    const tokens: string[] = [];
    for (const id of ids) {
      if (this.specialIds.has(id)) continue;
      const token = this.inner.idToToken(id);
      if (token !== null) tokens.push(token);
    }
    return this.decoder.decode(tokens);
  }
}

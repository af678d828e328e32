// Messages between the ModelServer (main thread) and its model workers.
import type { ChatMessage } from '../../llm/chat-format.ts';
import type { BackendChoice, BackendReport } from '../../llm/backend.ts';
import type { GenerationOptionsInput, GenerationResult } from '../../llm/generate.ts';

export interface WorkerInit {
  backend: BackendChoice;
}

export interface ModelVersionInfo {
  versionId: string;
  dir: string;
  parameters: number;
  contextLength: number;
  vocabSize: number;
  manifest: Record<string, unknown>;
}

/** A prompt is either chat messages (formatted with the chat template) or raw text. */
export type PromptInput = { messages: ChatMessage[] } | { text: string };

export type ToWorker =
  | { type: 'load'; reqId: number; versionId: string; dir: string }
  | { type: 'unload'; reqId: number; versionId: string }
  | { type: 'generate'; id: string; versionId: string; prompt: PromptInput; options: GenerationOptionsInput }
  | { type: 'cancel'; id: string }
  | { type: 'stats'; reqId: number }
  | { type: 'count'; reqId: number; versionId: string; prompt: PromptInput };

/** How long a prompt is for a version, and how much that version can take. */
export interface PromptSize {
  tokens: number;
  contextLength: number;
}

export interface WorkerStats {
  active: number;
  completed: number;
  aborted: number;
  versions: string[];
  numTensors: number;
}

/** A text delta for one stream; tokenId -1 marks text flushed at the end. */
export interface StreamToken {
  id: string;
  delta: string;
  tokenId: number;
}

export type FromWorker =
  | { type: 'ready'; backend: BackendReport }
  | { type: 'init-failed'; message: string }
  | { type: 'reply'; reqId: number; ok: true; value?: ModelVersionInfo | WorkerStats | PromptSize }
  | { type: 'reply'; reqId: number; ok: false; message: string }
  | { type: 'started'; id: string; promptTokens: number }
  /** Every delta of one scheduling round, in one message. */
  | { type: 'tokens'; tokens: StreamToken[] }
  | { type: 'done'; id: string; result: GenerationResult; versionId: string }
  | { type: 'failed'; id: string; message: string };

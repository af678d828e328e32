// Worker-thread entry: holds loaded model versions and advances all its requests together, one
// token per round with one batched forward pass, so a long completion cannot starve a new one, a
// cancel takes effect at the next token, and eight streams cost about one matmul pass per token.
import * as tf from '@tensorflow/tfjs';
import { parentPort, workerData } from 'node:worker_threads';
import { selectBackend } from '../../llm/backend.ts';
import { formatChatPrompt, SPECIAL_TOKEN_LIST } from '../../llm/chat-format.ts';
import { loadModel, type LoadedModel } from '../../llm/checkpoint.ts';
import {
  GenerationSession,
  warmForGeneration,
  releaseInferenceCache,
  type GenerationResult,
  type StepEvent,
} from '../../llm/generate.ts';
import { countParams, disposeParams } from '../../llm/params.ts';
import type {
  FromWorker,
  ModelVersionInfo,
  PromptInput,
  PromptSize,
  StreamToken,
  ToWorker,
  WorkerInit,
  WorkerStats,
} from './protocol.ts';

interface Version {
  model: LoadedModel;
  /** Sessions using it: a replaced version is disposed only once they finish. */
  refs: number;
  retired: boolean;
}

interface Active {
  id: string;
  session: GenerationSession;
  version: Version;
  versionId: string;
  cancelled: boolean;
}

const port = parentPort!;
const versions = new Map<string, Version>();
const active = new Map<string, Active>();
const cancelledEarly = new Set<string>();
/** Sessions that have not produced a token yet: prefilled before the next decoding round. */
const fresh = new Set<Active>();
/**
 * Requests still being tokenized (the tokenizer is asynchronous, on the thread pool). The scheduler
 * waits for them, well under a millisecond, so they join the next prefill pass instead of waiting
 * out a decoding round.
 */
const tokenizing = new Set<Promise<unknown>>();
let completed = 0;
let aborted = 0;
let running = false;

const send = (msg: FromWorker) => port.postMessage(msg);

function release(v: Version): void {
  v.refs -= 1;
  if (v.retired && v.refs === 0) dispose(v);
}

function dispose(v: Version): void {
  releaseInferenceCache(v.model.params);
  disposeParams(v.model.params);
}

function retire(v: Version): void {
  v.retired = true;
  if (v.refs === 0) dispose(v);
}

function info(versionId: string, m: LoadedModel): ModelVersionInfo {
  return {
    versionId,
    dir: m.dir,
    parameters: countParams(m.config),
    contextLength: m.config.contextLength,
    vocabSize: m.config.vocabSize,
    manifest: m.manifest,
  };
}

function promptText(prompt: PromptInput): string {
  return 'messages' in prompt ? formatChatPrompt(prompt.messages) : prompt.text;
}

async function start(msg: Extract<ToWorker, { type: 'generate' }>): Promise<void> {
  const version = versions.get(msg.versionId);
  if (!version) throw new Error(`model version ${msg.versionId} is not loaded`);
  const { tokenizer } = version.model;
  const ids = await tokenizer.encode(promptText(msg.prompt));
  // Any special token ends a reply: <|end|>, <|endoftext|> or the model opening a new turn.
  const stopIds = SPECIAL_TOKEN_LIST.map((t) => tokenizer.requireId(t));
  const session = new GenerationSession(version.model, ids, msg.options, stopIds);
  version.refs += 1;
  active.set(msg.id, {
    id: msg.id,
    session,
    version,
    versionId: msg.versionId,
    cancelled: cancelledEarly.delete(msg.id),
  });
  fresh.add(active.get(msg.id)!);
  send({ type: 'started', id: msg.id, promptTokens: ids.length });
  if (!running) void schedule();
}

function finish(a: Active, result: GenerationResult): void {
  active.delete(a.id);
  fresh.delete(a);
  release(a.version);
  if (result.finishReason === 'aborted') aborted += 1;
  else completed += 1;
  send({ type: 'done', id: a.id, result, versionId: a.versionId });
}

function fail(a: Active, err: unknown): void {
  active.delete(a.id);
  fresh.delete(a);
  a.session.abort();
  release(a.version);
  send({ type: 'failed', id: a.id, message: err instanceof Error ? err.message : String(err) });
}

/**
 * Advances `batch` by one token with one batched pass and reports it: all token deltas in one
 * message (one postMessage per round, not per stream), then the completions that ended. Cancelled
 * sessions end here without computing; a model error fails the sessions of this batch only.
 */
async function advance(batch: Active[]): Promise<void> {
  const live: Active[] = [];
  for (const a of batch) {
    if (!active.has(a.id)) continue;
    if (a.cancelled) finish(a, a.session.abort().result!);
    else live.push(a);
  }
  if (live.length === 0) return;
  let events: StepEvent[];
  try {
    events = await GenerationSession.stepAll(live.map((a) => a.session));
  } catch (err) {
    for (const a of live) fail(a, err);
    return;
  }
  const tokens: StreamToken[] = [];
  const ended: [Active, GenerationResult][] = [];
  live.forEach((a, i) => {
    const ev = events[i]!;
    if (ev.done) {
      if (ev.delta) tokens.push({ id: a.id, delta: ev.delta, tokenId: -1 });
      ended.push([a, ev.result!]);
    } else if (ev.delta || ev.tokenId !== undefined) {
      tokens.push({ id: a.id, delta: ev.delta, tokenId: ev.tokenId! });
    }
  });
  if (tokens.length) send({ type: 'tokens', tokens });
  for (const [a, result] of ended) finish(a, result);
}

/** Lets messages that arrived meanwhile (new requests, cancels) run before the next round. */
const yieldToMessages = () => new Promise((r) => setImmediate(r));

/** Prefill passes that may run back to back before the streaming answers get their next token. */
const MAX_PREFILLS_IN_A_ROW = 2;

/**
 * Rounds until nothing is active. Requests that arrived since the last pass are prefilled first
 * (one batched pass, giving them their first token), and newcomers that arrive during that pass
 * get a second prefill pass at once rather than waiting for a decoding round; then every other
 * request advances by one token (one batched pass). A new request therefore waits for at most the
 * pass in progress and one prefill pass, and a streaming answer for at most two prefill passes.
 */
async function schedule(): Promise<void> {
  running = true;
  try {
    let prefillsInARow = 0;
    while (active.size > 0) {
      // Yield first: requests sent together then share the first prefill pass.
      await yieldToMessages();
      if (tokenizing.size > 0) await Promise.allSettled([...tokenizing]);
      if (fresh.size > 0 && prefillsInARow < MAX_PREFILLS_IN_A_ROW) {
        const newcomers = [...fresh];
        fresh.clear();
        await advance(newcomers);
        prefillsInARow += 1;
        continue;
      }
      prefillsInARow = 0;
      const streaming = [...active.values()].filter((a) => !fresh.has(a));
      if (streaming.length) await advance(streaming);
    }
  } finally {
    running = false;
  }
}

async function handle(msg: ToWorker): Promise<void> {
  switch (msg.type) {
    case 'load': {
      try {
        const model = loadModel(msg.dir);
        const previous = versions.get(msg.versionId);
        versions.set(msg.versionId, { model, refs: 0, retired: false });
        if (previous) retire(previous);
        // Warmed before it is announced loaded, so a first request pays nothing extra. It is
        // registered first: a restarted thread is sent its loads and then, without waiting, the
        // requests that were queued, and those must find the version while it warms.
        await warmForGeneration(model);
        send({ type: 'reply', reqId: msg.reqId, ok: true, value: info(msg.versionId, model) });
      } catch (err) {
        send({
          type: 'reply',
          reqId: msg.reqId,
          ok: false,
          message: err instanceof Error ? err.message : String(err),
        });
      }
      return;
    }
    case 'unload': {
      const v = versions.get(msg.versionId);
      versions.delete(msg.versionId);
      if (v) retire(v);
      send({ type: 'reply', reqId: msg.reqId, ok: true });
      return;
    }
    case 'generate':
      try {
        const started = start(msg);
        tokenizing.add(started);
        await started.finally(() => tokenizing.delete(started));
      } catch (err) {
        send({ type: 'failed', id: msg.id, message: err instanceof Error ? err.message : String(err) });
      }
      return;
    case 'cancel': {
      const a = active.get(msg.id);
      if (a) a.cancelled = true;
      else cancelledEarly.add(msg.id);
      return;
    }
    case 'count': {
      try {
        const version = versions.get(msg.versionId);
        if (!version) throw new Error(`model version ${msg.versionId} is not loaded`);
        const ids = await version.model.tokenizer.encode(promptText(msg.prompt));
        const size: PromptSize = { tokens: ids.length, contextLength: version.model.config.contextLength };
        send({ type: 'reply', reqId: msg.reqId, ok: true, value: size });
      } catch (err) {
        send({
          type: 'reply',
          reqId: msg.reqId,
          ok: false,
          message: err instanceof Error ? err.message : String(err),
        });
      }
      return;
    }
    case 'stats': {
      const stats: WorkerStats = {
        active: active.size,
        completed,
        aborted,
        versions: [...versions.keys()],
        numTensors: tf.memory().numTensors,
      };
      send({ type: 'reply', reqId: msg.reqId, ok: true, value: stats });
      return;
    }
  }
}

try {
  const backend = await selectBackend((workerData as WorkerInit).backend);
  port.on('message', (msg: ToWorker) => void handle(msg));
  send({ type: 'ready', backend });
} catch (err) {
  send({ type: 'init-failed', message: err instanceof Error ? err.message : String(err) });
}

// Worker-thread entry: holds loaded model versions and interleaves all its requests one token at
// a time, so a long completion cannot starve a new one and a cancel takes effect at the next token.
import * as tf from '@tensorflow/tfjs';
import { parentPort, workerData } from 'node:worker_threads';
import { selectBackend } from '../backend.ts';
import { formatChatPrompt, SPECIAL_TOKEN_LIST } from '../chat-format.ts';
import { loadModel, type LoadedModel } from '../checkpoint.ts';
import { GenerationSession, releaseInferenceCache } from '../generate.ts';
import { countParams, disposeParams } from '../params.ts';
import type {
  FromWorker,
  ModelVersionInfo,
  PromptInput,
  PromptSize,
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
/** Sessions that have not produced a token yet: served first (see schedule). */
const fresh = new Set<Active>();
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

function finish(a: Active, event: { result?: import('../generate.ts').GenerationResult }): void {
  active.delete(a.id);
  release(a.version);
  if (event.result!.finishReason === 'aborted') aborted += 1;
  else completed += 1;
  send({ type: 'done', id: a.id, result: event.result!, versionId: a.versionId });
}

/** Advances one session by one token and reports it. */
async function advance(a: Active): Promise<void> {
  try {
    if (a.cancelled) {
      finish(a, a.session.abort());
      return;
    }
    const ev = await a.session.step();
    if (ev.done) {
      if (ev.delta) send({ type: 'token', id: a.id, delta: ev.delta, tokenId: -1 });
      finish(a, ev);
    } else if (ev.delta || ev.tokenId !== undefined) {
      send({ type: 'token', id: a.id, delta: ev.delta, tokenId: ev.tokenId! });
    }
  } catch (err) {
    active.delete(a.id);
    a.session.abort();
    release(a.version);
    send({ type: 'failed', id: a.id, message: err instanceof Error ? err.message : String(err) });
  }
}

/**
 * Round-robin over active sessions. Between steps it yields to the message queue, and a request
 * that arrived meanwhile is prefilled and gets its first token before the round goes on: time to
 * first token does not grow with the number of answers already streaming.
 */
async function schedule(): Promise<void> {
  running = true;
  try {
    while (active.size > 0) {
      for (const a of [...active.values()]) {
        if (!active.has(a.id)) continue;
        await advance(a);
        await new Promise((r) => setImmediate(r));
        for (const newcomer of [...fresh]) {
          fresh.delete(newcomer);
          if (active.has(newcomer.id)) await advance(newcomer);
        }
      }
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
        await start(msg);
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

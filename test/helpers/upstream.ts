// A second feedloop instance used as an OpenAI-compatible upstream in tests: it serves the tiny
// random model (test/helpers/llm.ts; with a 256-token context) as its active version over real HTTP, and hands out an API
// key that the first instance is given through an environment variable.
// Also raw peers: too slow ones, and one that streams a very long answer only as fast as it is read.
import { createServer as createHttpServer, type ServerResponse } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { activateModelVersion, registerModelVersion } from '../../src/promotion/model-versions.ts';
import { makeUser, startTestApp, type TestApp } from './app.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { saveModel } from '../../src/llm/checkpoint.ts';
import { initParams } from '../../src/llm/params.ts';
import { tinyConfig, tinyTokenizer } from './llm.ts';

/** The tiny random model of the other tests, with a context long enough for the evaluation prompts. */
function writeUpstreamModel(seed: number): string {
  const tokenizer = tinyTokenizer();
  const config = { ...tinyConfig(tokenizer.vocabSize), contextLength: 256 };
  const dir = mkdtempSync(path.join(tmpdir(), 'feedloop-upstream-model-'));
  const params = initParams(config, seed);
  saveModel(dir, { config, params, tokenizer, manifest: { seed, test: true } });
  for (const t of Object.values(params)) t.dispose();
  return dir;
}

export interface Upstream {
  t: TestApp;
  /** Its OpenAI base URL (…/v1). */
  baseUrl: string;
  /** The name its model is served under. */
  model: string;
  /** A user API key of the upstream. */
  key: string;
  close(): Promise<void>;
}

export async function startUpstream(model = 'tiny'): Promise<Upstream> {
  const dir = writeUpstreamModel(3);
  const t = await startTestApp({ MODEL_DIR: path.dirname(dir) });
  const version = await registerModelVersion(t.app.db.prisma, {
    name: model,
    path: path.basename(dir),
    actorId: null,
  });
  await activateModelVersion(t.app.db.prisma, { id: version.id, actorId: null, reason: 'upstream test' });
  await t.app.servedModels.warm();
  const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
  const user = await makeUser(t.app);
  return { t, baseUrl: `${address}/v1`, model, key: user.key, close: () => t.close() };
}

/**
 * A real TCP peer that is too slow: it accepts connections and reads the request, then either
 * never answers (`silent`) or sends the headers of an event stream and then nothing (`headers`).
 */
export async function startSlowPeer(
  mode: 'silent' | 'headers',
): Promise<{ baseUrl: string; connections: () => number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let count = 0;
  const server: Server = createServer((socket) => {
    count += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let answered = false;
    socket.on('data', () => {
      if (mode === 'headers' && !answered) {
        answered = true;
        socket.write(
          'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: keep-alive\r\n\r\n',
        );
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    connections: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** One response of a long-answer upstream, as far as it has got. */
export interface LongAnswerResponse {
  /** Characters of the answer handed to the socket so far. */
  written: number;
  /** Since when (performance.now()) it has waited for its socket to drain; null while not waiting. */
  waitingSince: number | null;
  /** streaming, finished (all written and ended), or aborted (the client left before the end). */
  state: 'streaming' | 'finished' | 'aborted';
}

export interface LongAnswerUpstream {
  baseUrl: string;
  model: string;
  /** The whole answer every request gets. */
  answer: string;
  /** Every response so far, oldest first. */
  responses: LongAnswerResponse[];
  close(): Promise<void>;
}

/**
 * A plain HTTP server speaking OpenAI's streamed Chat Completions that sends one very long answer
 * (`deltas` chunks of `deltaChars` ASCII characters each) as fast as its client takes it, and no
 * faster: when the socket's buffer is full it waits for 'drain', as a real server does. What it
 * has written shows how far a client (feedloop) pulled the answer.
 */
export async function startLongAnswerUpstream(
  deltas: number,
  deltaChars: number,
): Promise<LongAnswerUpstream> {
  const model = 'long-answer';
  const filler = 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(Math.ceil(deltaChars / 36));
  const deltaAt = (i: number) => `[${i}]${filler}`.slice(0, deltaChars);
  const answer = Array.from({ length: deltas }, (_, i) => deltaAt(i)).join('');
  const responses: LongAnswerResponse[] = [];
  const server = createHttpServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const progress: LongAnswerResponse = { written: 0, waitingSince: null, state: 'streaming' };
      responses.push(progress);
      res.on('close', () => {
        if (!res.writableFinished) progress.state = 'aborted';
      });
      void streamAnswer(res, progress);
    });
  });
  const event = (choice: Record<string, unknown> | null, usage?: Record<string, number>) =>
    `data: ${JSON.stringify({
      id: 'long-answer-1',
      object: 'chat.completion.chunk',
      created: 0,
      model,
      choices: choice ? [{ index: 0, logprobs: null, ...choice }] : [],
      ...(usage ? { usage } : {}),
    })}\n\n`;
  const drainedOrClosed = (res: ServerResponse) =>
    new Promise<void>((resolve) => {
      const done = () => {
        res.off('drain', done);
        res.off('close', done);
        resolve();
      };
      res.once('drain', done);
      res.once('close', done);
    });
  async function streamAnswer(res: ServerResponse, progress: LongAnswerResponse) {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write(event({ delta: { role: 'assistant', content: '' }, finish_reason: null }));
    for (let i = 0; i < deltas; i++) {
      if (res.destroyed) return;
      const delta = deltaAt(i);
      const flushed = res.write(event({ delta: { content: delta }, finish_reason: null }));
      progress.written += delta.length;
      if (!flushed) {
        progress.waitingSince = performance.now();
        await drainedOrClosed(res);
        progress.waitingSince = null;
      }
    }
    res.write(event({ delta: {}, finish_reason: 'stop' }));
    res.write(event(null, { prompt_tokens: 1, completion_tokens: deltas, total_tokens: deltas + 1 }));
    res.end('data: [DONE]\n\n', () => (progress.state = 'finished'));
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    model,
    answer,
    responses,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

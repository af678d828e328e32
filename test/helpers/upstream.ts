// A second feedloop instance used as an OpenAI-compatible upstream in tests: it serves the tiny
// random model (test/helpers/llm.ts; with a 256-token context) as its active version over real HTTP, and hands out an API
// key that the first instance is given through an environment variable.
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

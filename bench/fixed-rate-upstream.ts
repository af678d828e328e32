// An OpenAI-compatible Chat Completions server whose answers stream at a fixed pace: the first
// token FIRST_TOKEN_MS after the request, then one every TOKEN_MS, up to max_tokens, with usage
// in a last chunk when asked. bench/serving-upstream.ts runs it in a child process as its default
// upstream; run as that child, it listens on a free local port and sends its base URL to the parent.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Roughly a small model's prefill on a GPU server. */
export const FIRST_TOKEN_MS = 50;
/** 50 tokens/s per stream, a GPU server's decoding pace. */
export const TOKEN_MS = 20;
const DEFAULT_MAX_TOKENS = 16;
const WORDS = ['The', ' answer', ' streams', ' at', ' a', ' fixed', ' pace', '.'];

interface CompletionRequest {
  model?: string;
  messages?: { content?: unknown }[];
  max_tokens?: number;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
}

let answers = 0;

function streamAnswer(request: CompletionRequest, res: http.ServerResponse): void {
  const id = `chatcmpl-fixed-${++answers}`;
  const model = request.model ?? 'fixed-rate';
  const created = Math.floor(Date.now() / 1000);
  const maxTokens = request.max_tokens ?? DEFAULT_MAX_TOKENS;
  const promptTokens = (request.messages ?? [])
    .map((m) => (typeof m.content === 'string' ? m.content.split(/\s+/).filter(Boolean).length : 0))
    .reduce((sum, n) => sum + n, 0);
  const send = (choices: unknown[], usage?: unknown) =>
    res.write(
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices, ...(usage ? { usage } : {}) })}\n\n`,
    );
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  send([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]);
  let sent = 0;
  const next = () => {
    send([{ index: 0, delta: { content: WORDS[sent % WORDS.length] }, finish_reason: null }]);
    sent++;
    if (sent < maxTokens) {
      timer = setTimeout(next, TOKEN_MS);
      return;
    }
    send([{ index: 0, delta: {}, finish_reason: 'length' }]);
    if (request.stream_options?.include_usage)
      send([], { prompt_tokens: promptTokens, completion_tokens: sent, total_tokens: promptTokens + sent });
    res.end('data: [DONE]\n\n');
  };
  let timer = setTimeout(next, FIRST_TOKEN_MS);
  // A client that goes away ends the answer, as a real server's would.
  res.on('close', () => clearTimeout(timer));
}

function fail(res: http.ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { message, type: 'invalid_request_error', code: null, param: null } }));
}

export function fixedRateServer(): http.Server {
  return http.createServer((req, res) => {
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) return fail(res, 404, 'Not found');
    const body: Buffer[] = [];
    req.on('data', (chunk: Buffer) => body.push(chunk));
    req.on('end', () => {
      let request: CompletionRequest;
      try {
        request = JSON.parse(Buffer.concat(body).toString('utf8')) as CompletionRequest;
      } catch {
        return fail(res, 400, 'The body is not JSON');
      }
      // feedloop always streams from an upstream, and so does the bench's client.
      if (request.stream !== true) return fail(res, 400, 'This bench upstream only streams');
      streamAnswer(request, res);
    });
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const server = fixedRateServer();
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo;
    process.send?.({ baseUrl: `http://127.0.0.1:${port}/v1` });
  });
  // The parent going away (or ending this child) ends the server.
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
}

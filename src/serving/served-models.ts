// Keeps this process's ModelServer in step with the model_versions table. Requests that name no
// model get the active version, re-read from the database every REFRESH_MS, so a promotion made by
// any process (an ops action, the training gate) takes effect here without a restart. A version
// is loaded into the worker threads the first time someone asks for it.
import path from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import type { Db } from '../platform/db/client.ts';
import type { ModelVersion } from '../generated/prisma/client.ts';
import { AppError } from '../platform/errors/app-error.ts';
import { activeModelVersion } from './active-version.ts';
import { ModelServer } from './worker-pool/model-server.ts';
import type { BackendChoice } from '../llm/backend.ts';
import { formatChatPrompt, TextTokenizer, type ChatMessage } from '../llm/index.ts';

const REFRESH_MS = 2000;

export class ServedModels {
  private server: Promise<ModelServer> | null = null;
  private readonly loading = new Map<string, Promise<void>>();
  private readonly tokenizers = new Map<string, TextTokenizer>();
  private active: { version: ModelVersion | null; at: number } | null = null;
  private closed = false;

  constructor(
    private readonly db: Db,
    private readonly modelDir: string,
    private readonly backend: BackendChoice,
    private readonly log?: Pick<FastifyBaseLogger, 'error' | 'warn'>,
  ) {}

  /** Where a version's files are: its path, relative to MODEL_DIR unless absolute. */
  dirOf(version: Pick<ModelVersion, 'path'>): string {
    return path.resolve(this.modelDir, version.path);
  }

  /** The worker pool, started on first use (tests that never generate never pay for it). */
  modelServer(): Promise<ModelServer> {
    if (this.closed) return Promise.reject(new AppError('unavailable', 'The model server is shutting down'));
    this.server ??= ModelServer.start({
      backend: this.backend,
      onWorkerEvent: (event) => {
        if (event.type === 'exited') {
          const { error, ...rest } = event;
          this.log?.error({ ...rest, err: error }, 'a model worker thread died; starting a new one');
        } else this.log?.warn({ err: event.error }, 'a new model worker thread could not start or load');
      },
    }).catch((err) => {
      this.server = null;
      throw err;
    });
    return this.server;
  }

  /** The version a request asked for (by name; absent or "default": the active one), loaded. */
  async resolve(name?: string): Promise<{ version: ModelVersion; server: ModelServer }> {
    const version = name && name !== 'default' ? await this.byName(name) : await this.activeVersion();
    const server = await this.modelServer();
    await this.ensureLoaded(server, version);
    return { version, server };
  }

  private async byName(name: string): Promise<ModelVersion> {
    const version = await this.db.modelVersion.findUnique({ where: { name } });
    if (!version || version.status === 'rejected') {
      throw new AppError('not_found', `The model '${name}' does not exist`, { param: 'model' });
    }
    return version;
  }

  private async activeVersion(): Promise<ModelVersion> {
    const now = Date.now();
    if (!this.active || now - this.active.at > REFRESH_MS) {
      this.active = { version: await activeModelVersion(this.db), at: now };
    }
    if (!this.active.version) throw new AppError('unavailable', 'No model version is active yet');
    return this.active.version;
  }

  private async ensureLoaded(server: ModelServer, version: ModelVersion): Promise<void> {
    if (server.versions().some((v) => v.versionId === version.id)) return;
    let pending = this.loading.get(version.id);
    if (!pending) {
      pending = server
        .load(version.id, this.dirOf(version))
        .then(() => undefined)
        .finally(() => this.loading.delete(version.id));
      this.loading.set(version.id, pending);
    }
    await pending;
  }

  /**
   * Tokens the chat prompt takes for `version`, and its context length. Counted here, on the main
   * thread (the tokenizer is native and fast), so the check does not queue behind generation.
   */
  async promptSize(
    version: ModelVersion,
    messages: ChatMessage[],
  ): Promise<{ tokens: number; contextLength: number }> {
    let tokenizer = this.tokenizers.get(version.id);
    if (!tokenizer) {
      tokenizer = TextTokenizer.fromFile(path.join(this.dirOf(version), 'tokenizer.json'));
      this.tokenizers.set(version.id, tokenizer);
    }
    const info = (await this.modelServer()).versions().find((v) => v.versionId === version.id);
    if (!info) throw new Error(`model version ${version.name} is not loaded`);
    const tokens = (await tokenizer.encode(formatChatPrompt(messages))).length;
    return { tokens, contextLength: info.contextLength };
  }

  /** Loads the active version now, so the first request does not wait for it. */
  async warm(): Promise<ModelVersion | null> {
    const version = await activeModelVersion(this.db);
    if (version) await this.ensureLoaded(await this.modelServer(), version);
    return version;
  }

  async close(): Promise<void> {
    this.closed = true;
    const server = await this.server?.catch(() => null);
    await server?.close();
  }
}

// Model versions in and out of the Hugging Face tools. An import turns a GPT-2-family folder into a
// candidate version with its provenance; an export writes a version's folder (in the dtype asked
// for) with a model card built from the registry: lineage, latest report, training config.
import { existsSync, rmSync } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Db } from '../platform/db/client.ts';
import { inTransaction } from '../platform/db/client.ts';
import type { ModelVersion } from '../generated/prisma/client.ts';
import { recordAudit } from '../platform/audit/audit-log.ts';
import { AppError, notFound } from '../platform/errors/app-error.ts';
import { toJson } from '../platform/db/json.ts';
import { EvaluationReportSchema, GateDecisionSchema, WinRateSchema } from '../contract/evaluation.ts';
import { modelProvenance, type ModelProvenance } from '../contract/model-versions.ts';
import { HfFormatError } from '../llm/hf-format.ts';
import { runHfTask } from '../llm/hf-thread.ts';
import { readModelSummary } from '../llm/checkpoint.ts';
import { countParams } from '../llm/params.ts';
import type { FloatStorage } from '../llm/safetensors.ts';
import { renderModelCard, type LineageStep, type ModelCardInput } from './model-card.ts';
import { registerModelVersion } from './model-versions.ts';

/** Where ops put folders to import: `MODEL_DIR/incoming/`, and nowhere else. */
export const incomingDir = (modelDir: string) => path.resolve(modelDir, 'incoming');

const refusal = (err: HfFormatError, from: string) =>
  new AppError('validation_failed', `Cannot import ${from}: ${err.field}: ${err.reason}`, [
    { path: err.field, message: err.reason },
  ]);

/**
 * Resolves `from` (relative to MODEL_DIR/incoming) to a folder whose real path lies inside it.
 * 400 naming body.from otherwise.
 */
export async function resolveIncoming(
  modelDir: string,
  from: string,
): Promise<{ dir: string; root: string }> {
  const root = incomingDir(modelDir);
  const bad = (message: string) =>
    new AppError('validation_failed', `Invalid body.from: ${message}`, [{ path: 'body.from', message }]);
  const dir = path.resolve(root, from);
  const realRoot = await realpath(root).catch(() => {
    throw bad(`${root} does not exist: put the folder to import there`);
  });
  const real = await realpath(dir).catch(() => {
    throw bad(`${from} is not a folder under MODEL_DIR/incoming`);
  });
  const rel = path.relative(realRoot, real);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel))
    throw bad(`${from} resolves outside MODEL_DIR/incoming (a symbolic link?)`);
  if (!(await stat(real)).isDirectory()) throw bad(`${from} is not a folder`);
  return { dir: real, root: realRoot };
}

/**
 * Imports the HF folder `source` as a candidate version named `name` in MODEL_DIR/<name>. The
 * conversion runs in a worker thread; a refusal is a 400 naming the field, and a failed import
 * registers nothing and leaves no folder behind. Audited as `model_version.import`.
 */
export async function importModelVersion(
  db: Db,
  input: {
    modelDir: string;
    /** The folder to read. */
    source: string;
    /** Files must really lie inside this folder (the API passes MODEL_DIR/incoming). */
    confineTo?: string;
    /** How the caller named the source (shown in provenance and errors). */
    from: string;
    name: string;
    reason: string;
    actorId: string | null;
  },
): Promise<ModelVersion> {
  const taken = await db.modelVersion.findUnique({ where: { name: input.name }, select: { id: true } });
  if (taken) throw new AppError('conflict', `A model version named ${input.name} exists`);
  const dest = path.resolve(input.modelDir, input.name);
  if (existsSync(dest))
    throw new AppError(
      'conflict',
      `MODEL_DIR already holds a folder named ${input.name}; choose another name`,
    );
  const result = await runHfTask({
    kind: 'import',
    src: input.source,
    dest,
    confineTo: input.confineTo,
  }).catch((err: unknown) => {
    throw err instanceof HfFormatError ? refusal(err, input.from) : err;
  });
  const provenance: ModelProvenance = {
    kind: 'hf-import',
    from: input.from,
    sourceSha256: result.sourceSha256,
    files: (result.manifest.source as { files: string[] }).files,
    sourceConfig: result.sourceConfig,
    addedTokens: result.addedTokens,
    storedAs: result.storedAs,
    parameters: result.parameters,
  };
  try {
    return await inTransaction(db, async (tx) => {
      const version = await registerModelVersion(tx, {
        name: input.name,
        path: input.name,
        notes: `Imported from ${input.from} (files sha256 ${result.sourceSha256.slice(0, 12)}): ${input.reason}`,
        provenance,
        actorId: input.actorId,
      });
      await recordAudit(tx, {
        actorId: input.actorId,
        action: 'model_version.import',
        target: `model_version:${version.id}`,
        details: toJson({
          reason: input.reason,
          from: input.from,
          sourceSha256: result.sourceSha256,
          addedTokens: result.addedTokens,
        }),
      });
      return version;
    });
  } catch (err) {
    rmSync(dest, { recursive: true, force: true });
    throw err;
  }
}

export async function findVersion(db: Db, idOrName: string): Promise<ModelVersion> {
  const byId = /^[0-9a-f-]{36}$/i.test(idOrName)
    ? await db.modelVersion.findUnique({ where: { id: idOrName } })
    : null;
  const version = byId ?? (await db.modelVersion.findUnique({ where: { name: idOrName } }));
  if (!version) throw notFound('Model version');
  return version;
}

function originOf(v: ModelVersion): LineageStep['origin'] {
  if (v.provenance) return 'imported';
  if (v.datasetId) return 'fine-tuned by the loop';
  return v.name === 'base' ? 'shipped base' : 'registered by hand';
}

/** What the model card says about `version`, from the registry and its feedloop.json. */
export async function modelCardInput(
  db: Db,
  version: ModelVersion,
  folder: { config: ModelCardInput['config']; manifest: Record<string, unknown> },
  floats: FloatStorage,
): Promise<ModelCardInput> {
  const lineage: LineageStep[] = [];
  const seen = new Set<string>();
  let importedRoot = false;
  for (let v: ModelVersion | null = version; v && !seen.has(v.id);) {
    seen.add(v.id);
    const dataset = v.datasetId
      ? await db.dataset.findUnique({ where: { id: v.datasetId }, select: { contentHash: true } })
      : null;
    const run = v.datasetId
      ? await db.loopRun.findFirst({
          where: { candidateVersionId: v.id, datasetId: v.datasetId },
          select: { id: true },
        })
      : null;
    const provenance = modelProvenance.nullable().parse(v.provenance);
    lineage.push({
      name: v.name,
      status: v.status,
      createdAt: v.createdAt,
      origin: originOf(v),
      datasetHash: dataset?.contentHash ?? null,
      runId: run?.id ?? null,
      sourceSha256: provenance?.sourceSha256 ?? null,
    });
    importedRoot = provenance !== null;
    v = v.parentId ? await db.modelVersion.findUnique({ where: { id: v.parentId } }) : null;
  }
  const row = await db.evaluationReport.findFirst({
    where: { modelVersionId: version.id },
    orderBy: { createdAt: 'desc' },
  });
  const comparedWith = row?.comparedWithVersionId
    ? await db.modelVersion.findUnique({ where: { id: row.comparedWithVersionId }, select: { name: true } })
    : null;
  const m = folder.manifest;
  const training =
    m.kind === 'feedloop-fine-tuned'
      ? {
          kind: m.kind,
          config: m.config,
          seed: m.seed,
          dataset: m.dataset,
          methods: summarizeMethods(m.methods),
        }
      : m.kind === 'feedloop-base-model'
        ? { kind: m.kind, pretrain: m.pretrain, corpusHash: m.corpusHash, validationLoss: m.validationLoss }
        : null;
  return {
    name: version.name,
    config: folder.config,
    parameters: countParams(folder.config),
    floats,
    lineage,
    report: row
      ? {
          createdAt: row.createdAt,
          report: EvaluationReportSchema.parse(row.report),
          gate: GateDecisionSchema.nullable().parse(row.gate),
          winRate: WinRateSchema.nullable().parse(row.winRate),
          comparedWith: comparedWith?.name ?? null,
        }
      : null,
    training,
    importedRoot,
  };
}

/** The per-method records without their step-by-step history (the card stays readable). */
function summarizeMethods(methods: unknown): unknown {
  if (!Array.isArray(methods)) return methods;
  return methods.map((m: Record<string, unknown>) => {
    const { history, ...rest } = m;
    void history;
    return rest;
  });
}

export const FLOATS_OF_DTYPE: Record<'float32' | 'float16' | 'bfloat16', FloatStorage> = {
  float32: 'F32',
  float16: 'F16',
  bfloat16: 'BF16',
};

/**
 * Writes `version`'s folder to `outDir` for the Hugging Face tools, with its model card. The
 * weights are re-written in `floats` in a worker thread.
 */
export async function exportModelVersion(
  db: Db,
  input: { modelDir: string; version: ModelVersion; outDir: string; floats: FloatStorage },
): Promise<{ files: string[] }> {
  if (input.version.path === null)
    throw new AppError(
      'conflict',
      `Model version ${input.version.name} is served by an upstream (provider ${input.version.provider}); feedloop has no weights to export`,
    );
  const modelDir = path.resolve(input.modelDir, input.version.path);
  if (!existsSync(modelDir))
    throw new AppError(
      'not_found',
      `The files of model version ${input.version.name} are not on this server`,
    );
  const card = renderModelCard(
    await modelCardInput(db, input.version, readModelSummary(modelDir), input.floats),
  );
  const { files } = await runHfTask({
    kind: 'export',
    modelDir,
    outDir: input.outDir,
    floats: input.floats,
    readme: card,
  });
  return { files };
}

// A dataset build as a stream, in memory that does not grow with the feedback it reads: raters are
// assessed from per-rater tallies over cursors; examples are built a prompt at a time (the pure
// builders of ./builders.ts on each prompt's rows) and a pair of answers at a time, and spilled to
// sorted runs on disk; hygiene and the split read them back in the order buildDataset sorts them;
// the JSONL files are written, and their content hash computed, as rows arrive. The files, hash,
// sizes and stats are exactly what buildDataset gives for the same rows.
//
// State that stays in memory: per rater, a tally (ratings never); per format, the near-duplicate
// index of kept examples (./near-duplicates.ts: ~0.4 KB per kept example); the annotation queue
// judgements (what people judged in queues, not chat feedback); one page of rows, and one buffer
// of each sorter (a few thousand examples).
import { createHash } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import type { Db } from '../platform/db/client.ts';
import type { ImplicitEventType } from '../generated/prisma/client.ts';
import type { DatasetBuildConfig } from '../contract/dataset-build-config.ts';
import {
  DATASET_FORMATS,
  DATASET_SPLITS,
  type DatasetFormat,
  type DatasetSplit,
} from '../contract/datasets.ts';
import type {
  AnnotationJudgementRow,
  EventSelection,
  FeedbackWindow,
  VoteRow,
} from '../feedback/feedback-rows.ts';
import {
  answersById,
  badAnswerIds,
  loadAnnotationJudgements,
  promptGroups,
  votePages,
  type FeedbackFilter,
} from '../feedback/feedback-stream.ts';
import { trustOf, type RaterAssessment } from '../feedback/raters/raters.ts';
import { assessRatersStreamed } from '../feedback/raters/rater-stream.ts';
import { consensusLabels } from '../feedback/annotation/judgements.ts';
import { isContaminated } from '../suites/contamination.ts';
import {
  buildKto,
  buildPreference,
  buildSft,
  comparableText,
  compareFeedbackRefs,
  consensusPreferences,
  DATASET_FORMAT_VERSION,
  feedbackRefKey,
  fileName,
  raterCounts,
  scrubExample,
  sha256,
  toTrlRow,
  votePreferences,
  type AnnotationRef,
  type DatasetStats,
  type Example,
  type FeedbackRef,
} from './builders.ts';
import { ExternalSorter } from './external-sort.ts';
import { NearDuplicateIndex, ShingleCounts } from './near-duplicates.ts';
import { promptVariants, splitOf } from './hygiene.ts';
import { pushTo } from '../platform/push-to.ts';

/**
 * The implicit events a build with `config` can count (buildKto skips the others), so it reads only
 * those: the snapshot is the same, and a build over a busy window reads far fewer rows.
 */
export function eventsCounted(config: DatasetBuildConfig): EventSelection {
  if (!config.implicit.enabled) return 'none';
  const types = Object.entries(config.implicit.weights)
    .filter(([, weight]) => weight)
    .map(([type]) => type as ImplicitEventType);
  return { types, dwellMinMs: config.implicit.dwellMinMs };
}

/** A build's outcome without its examples: they are in the files. */
export interface StreamedBuild {
  sizes: Record<DatasetFormat, Record<DatasetSplit, number>>;
  sizesBySource: Record<DatasetFormat, Record<string, number>>;
  stats: DatasetStats;
  raters: RaterAssessment[];
  lineage: {
    /** Feedback rows used, as a count; the rows are in `lineageFile`. */
    feedback: number;
    annotations: AnnotationRef[];
    modelVersionIds: string[];
  };
  contentHash: string;
  /** JSONL of the feedback refs used, sorted by kind, id and user, each once. */
  lineageFile: string;
}

export interface StreamBuildJob {
  config: DatasetBuildConfig;
  window: FeedbackWindow;
  /** Where the JSONL files are written (created). */
  outDir: string;
  /** Scratch space for sorted runs and the lineage file (created; the caller removes it). */
  workDir: string;
  /** Serialized bytes each sorter holds in memory before it writes a sorted run (default 2 MB). */
  runBytes?: number;
}

/** An example waiting for hygiene, with what orders it: weight, text, then buildDataset's order. */
interface Candidate {
  w: number;
  t: string;
  s: (string | number)[];
  /** Model versions of its answers. */
  v: string[];
  e: Example;
}

function compareSeq(a: (string | number)[], b: (string | number)[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  }
  return a.length - b.length;
}

// Heaviest first, then by text, then in the order buildDataset builds them (a stable sort there).
const compareCandidates = (a: Candidate, b: Candidate) =>
  b.w - a.w || (a.t < b.t ? -1 : a.t > b.t ? 1 : 0) || compareSeq(a.s, b.s);

/**
 * Where buildDataset's builders put an example among the others of its format: by source in the
 * order they run, then by the rows they loop over. `groupFirst` is the first answer id of its prompt.
 */
function builtOrder(e: Example, groupFirst: string, consensusIndex: ReadonlyMap<string, number>) {
  const item = e.annotation ? (consensusIndex.get(e.annotation.itemId) ?? -1) : -1;
  const [first, second] = e.answerIds;
  if (e.source === 'correction')
    return e.format === 'kto' ? [0, e.feedback[0]!.id, e.label ? 1 : 0] : [0, e.feedback[0]!.id];
  if (e.format === 'sft') return e.source === 'rating' ? [1, first!] : [2, item];
  if (e.format === 'preference') {
    if (e.source === 'vote') return [1, [first!, second!].sort().join('')];
    if (e.source === 'consensus') return [2, item];
    return [3, groupFirst, first!, second!, e.source === 'thumbs' ? 0 : 1];
  }
  if (e.source === 'consensus') return [2, e.label ? 0 : 1, item];
  if (e.source === 'implicit') return [3, first!];
  return [1, first!, e.source === 'thumbs' ? 0 : 1];
}

const pairOf = (v: Pick<VoteRow, 'messageAId' | 'messageBId'>) =>
  v.messageAId < v.messageBId ? `${v.messageAId}|${v.messageBId}` : `${v.messageBId}|${v.messageAId}`;

/** Buffered writes to one file, synced at the end. */
async function writer(file: string) {
  const handle = await open(file, 'w');
  let pending = '';
  return {
    async write(text: string) {
      pending += text;
      if (pending.length >= 1 << 20) {
        await handle.write(pending);
        pending = '';
      }
    },
    async close() {
      if (pending) await handle.write(pending);
      await handle.sync();
      await handle.close();
    },
  };
}

/**
 * The phases of a build, each told as it ends: raters assessed; prompts' examples built; votes'
 * examples built; hygiene (near-duplicates, split) done; the JSONL files written; the lineage file
 * written; then, in buildDatasets, the files published and the snapshot recorded.
 */
export type BuildPhase =
  'raters' | 'prompts' | 'votes' | 'hygiene' | 'files' | 'lineage' | 'published' | 'recorded';

/** Builds every export of the window into `job.outDir`; see the module comment. */
export async function streamDataset(
  db: Db,
  job: StreamBuildJob,
  evaluationPrompts: ReadonlySet<string>,
  onPhase: (phase: BuildPhase) => void = () => {},
): Promise<StreamedBuild> {
  const { config } = job;
  const filter: FeedbackFilter = {
    window: job.window,
    modelVersionIds: config.modelVersionIds,
    events: eventsCounted(config),
  };
  await mkdir(job.outDir, { recursive: true });
  await mkdir(job.workDir, { recursive: true });
  const opened: ExternalSorter<unknown>[] = [];
  const sorter = <T>(name: string, compare: (a: T, b: T) => number) => {
    const created = new ExternalSorter<T>(path.join(job.workDir, name), compare, job.runBytes);
    opened.push(created as ExternalSorter<unknown>);
    return created;
  };
  try {
    const annotations = await loadAnnotationJudgements(db, filter);
    const raters = await assessRatersStreamed(db, filter, config, annotations);
    const trust = trustOf(raters);
    onPhase('raters');
    const consensus = consensusLabels(annotations, trust, config.stars);
    const consensusIndex = new Map(consensus.map((c, i) => [c.itemId, i]));
    const singleByAnswer = new Map<string, AnnotationJudgementRow[]>();
    for (const j of annotations) {
      if (j.messageBId === null) pushTo(singleByAnswer, j.messageId, j);
    }

    const stats: DatasetStats = {
      raters: raterCounts(raters),
      labels: { explicit: 0, implicit: 0 },
      dropped: { evaluationPrompts: 0, nearDuplicates: 0 },
      piiScrubbedExamples: 0,
      syntheticExamples: 0,
    };
    const candidateSorters = new Map(
      DATASET_FORMATS.map((f) => [f, sorter<Candidate>(`candidates-${f}`, compareCandidates)]),
    );
    const candidates = (format: DatasetFormat) => candidateSorters.get(format)!;
    const shingleCounts = new Map(DATASET_FORMATS.map((f) => [f, new ShingleCounts()]));
    const emit = async (e: Example, seq: (string | number)[], versionOf: (id: string) => string | null) => {
      if (e.source === 'implicit') stats.labels.implicit++;
      else stats.labels.explicit++;
      if (isContaminated(e.prompt, evaluationPrompts)) {
        stats.dropped.evaluationPrompts++;
        return;
      }
      let example = e;
      if (config.hygiene.scrubPii) {
        example = scrubExample(e);
        if (comparableText(example) !== comparableText(e)) stats.piiScrubbedExamples++;
      }
      const v = e.answerIds.map(versionOf).filter((id): id is string => id !== null);
      const text = comparableText(example);
      shingleCounts.get(e.format)!.add(text);
      await candidates(e.format).add({ w: example.weight, t: text, s: seq, v, e: example });
    };

    // Every prompt's answers with their feedback (votes and answer pairs of queues come after).
    const judgedAlone = new Set(singleByAnswer.keys());
    for await (const page of promptGroups(db, filter, judgedAlone)) {
      for (const rows of page) {
        rows.annotations = rows.answers.flatMap((a) => singleByAnswer.get(a.id) ?? []);
        const versions = new Map(rows.answers.map((a) => [a.id, a.modelVersionId]));
        const versionOf = (id: string) => versions.get(id) ?? null;
        const first = rows.answers[0]!.id;
        for (const e of [
          ...buildSft(rows, config, trust),
          ...buildPreference(rows, config, trust),
          ...buildKto(rows, config, trust),
        ])
          await emit(e, builtOrder(e, first, consensusIndex), versionOf);
      }
    }

    onPhase('prompts');

    // Votes, each pair's together: sorted by pair on disk, then built a few thousand pairs at a time.
    const votes = sorter<VoteRow>('votes', (a, b) => {
      const pa = pairOf(a);
      const pb = pairOf(b);
      return pa < pb ? -1 : pa > pb ? 1 : a.id < b.id ? -1 : 1;
    });
    for await (const page of votePages(db, filter)) for (const v of page) await votes.add(v);
    const buildPairs = async (batch: VoteRow[]) => {
      const ids = [...new Set(batch.flatMap((v) => [v.messageAId, v.messageBId]))];
      const [answers, bad] = await Promise.all([answersById(db, ids), badAnswerIds(db, filter, ids)]);
      const byId = new Map(answers.map((a) => [a.id, a]));
      for (const e of votePreferences(batch, byId, bad, trust))
        await emit(e, builtOrder(e, '', consensusIndex), (id) => byId.get(id)?.modelVersionId ?? null);
    };
    let batch: VoteRow[] = [];
    for await (const v of votes.sorted()) {
      if (batch.length >= 2000 && pairOf(batch.at(-1)!) !== pairOf(v)) {
        await buildPairs(batch);
        batch = [];
      }
      batch.push(v);
    }
    if (batch.length) await buildPairs(batch);

    // Answer pairs judged in queues.
    const pairItems = consensus.filter((c) => c.judgements[0]!.messageBId !== null);
    if (pairItems.length) {
      const ids = [
        ...new Set(pairItems.flatMap((c) => [c.judgements[0]!.messageId, c.judgements[0]!.messageBId!])),
      ];
      const [answers, bad] = await Promise.all([answersById(db, ids), badAnswerIds(db, filter, ids)]);
      const byId = new Map(answers.map((a) => [a.id, a]));
      for (const e of consensusPreferences(pairItems, byId, bad))
        await emit(e, builtOrder(e, '', consensusIndex), (id) => byId.get(id)?.modelVersionId ?? null);
    }

    onPhase('votes');

    // Hygiene and the split, in buildDataset's order; each kept line goes to its file's sorter.
    /** A JSONL line with the hash it is ordered by and what sizesBySource counts it as. */
    type Line = { k: string; l: string; s: string };
    const lineSorters = new Map(
      DATASET_FORMATS.flatMap((f) =>
        DATASET_SPLITS.map((split) => [
          `${f}.${split}`,
          sorter<Line>(`lines-${f}-${split}`, (a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0)),
        ]),
      ),
    );
    const lines = (format: DatasetFormat, split: DatasetSplit) => lineSorters.get(`${format}.${split}`)!;
    const lineage = sorter<FeedbackRef>('lineage', compareFeedbackRefs);
    const annotationRefs = new Map<string, AnnotationRef>();
    const modelVersionIds = new Set<string>();
    const keep = async (format: DatasetFormat, split: DatasetSplit, e: Example, v: string[]) => {
      const line = JSON.stringify(toTrlRow(e));
      await lines(format, split).add({ k: sha256(line), l: line, s: e.synthetic ? 'synthetic' : e.source });
      for (const ref of e.feedback) await lineage.add(ref);
      if (e.annotation) annotationRefs.set(e.annotation.itemId, e.annotation);
      for (const id of v) modelVersionIds.add(id);
    };
    for (const format of DATASET_FORMATS) {
      const counts = shingleCounts.get(format)!;
      const index = new NearDuplicateIndex(config.hygiene.nearDuplicateThreshold, (h) => counts.estimate(h));
      const source = candidates(format);
      for await (const c of source.sorted()) {
        if (!index.offer(c.t)) {
          stats.dropped.nearDuplicates++;
          continue;
        }
        const split = splitOf(c.e.prompt, config.hygiene.validationPercent);
        await keep(format, split, c.e, c.v);
        if (split === 'train' && config.augmentation.formats.includes(format)) {
          for (const prompt of promptVariants(c.e.prompt, config.augmentation.variantsPerExample)) {
            if (isContaminated(prompt, evaluationPrompts)) continue;
            stats.syntheticExamples++;
            await keep(format, split, { ...c.e, prompt, synthetic: true }, c.v);
          }
        }
      }
      await source.close();
    }

    onPhase('hygiene');

    // The files, in name order, hashed as JSON.stringify({version, config, files}) would hash them.
    const { window: _window, ...hashedConfig } = config;
    const hash = createHash('sha256');
    hash.update(`{"version":${DATASET_FORMAT_VERSION},"config":${JSON.stringify(hashedConfig)},"files":[`);
    // Keys in buildDataset's order (formats, then sources as the sorted lines first show them).
    const sizes = {} as StreamedBuild['sizes'];
    const sizesBySource = {} as StreamedBuild['sizesBySource'];
    for (const format of DATASET_FORMATS) {
      sizes[format] = { train: 0, validation: 0 };
      sizesBySource[format] = {};
    }
    const counts = new Map<string, Record<string, number>>();
    const names = DATASET_FORMATS.flatMap((format) =>
      DATASET_SPLITS.map((split) => ({ format, split, name: fileName(format, split) })),
    ).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const [i, { format, split, name }] of names.entries()) {
      hash.update(`${i ? ',' : ''}[${JSON.stringify(name)},"`);
      const file = await writer(path.join(job.outDir, name));
      let count = 0;
      const bySource: Record<string, number> = {};
      for await (const { l, s: source } of lines(format, split).sorted()) {
        const text = `${l}\n`;
        await file.write(text);
        hash.update(JSON.stringify(text).slice(1, -1));
        bySource[source] = (bySource[source] ?? 0) + 1;
        count++;
      }
      await file.close();
      hash.update('"]');
      sizes[format][split] = count;
      counts.set(`${format}.${split}`, bySource);
    }
    hash.update(']}');
    for (const format of DATASET_FORMATS) {
      for (const split of DATASET_SPLITS) {
        for (const [source, n] of Object.entries(counts.get(`${format}.${split}`)!))
          sizesBySource[format][source] = (sizesBySource[format][source] ?? 0) + n;
      }
    }

    onPhase('files');

    // Lineage: each feedback row once, sorted.
    const lineageFile = path.join(job.workDir, 'lineage.jsonl');
    const out = await writer(lineageFile);
    let previous: string | null = null;
    let feedback = 0;
    for await (const ref of lineage.sorted()) {
      const key = feedbackRefKey(ref);
      if (key === previous) continue;
      previous = key;
      feedback++;
      await out.write(`${JSON.stringify(ref)}\n`);
    }
    await out.close();
    onPhase('lineage');

    return {
      sizes,
      sizesBySource,
      stats,
      raters,
      lineage: {
        feedback,
        annotations: [...annotationRefs.values()].sort((a, b) => (a.itemId < b.itemId ? -1 : 1)),
        modelVersionIds: [...modelVersionIds].sort(),
      },
      contentHash: hash.digest('hex'),
      lineageFile,
    };
  } finally {
    for (const s of opened) await s.close();
  }
}

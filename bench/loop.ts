// `npm run bench:loop [-- --noise 0.2 --rounds 3 --questions 700 --users 10 --review-overlap 3]`: the whole loop, end to
// end, on this machine. A simulated population chats with the served model through the real API
// and rates it against the ground truth; a moderator reviews corrections; then the workers (a real
// `workers/main.ts` process on Redis) build datasets, fine-tune, evaluate and gate. After each round
// the served (active) version's held-out accuracy and bias are read from its stored report.
// `--users` honest users ask the round's questions; with `--noise`, noisy and adversarial raters
// join them until they make up that share of all raters, asking the same questions as honest users
// do. Honest feedback is then the same at every noise level, and the runs compare what bad
// feedback does to the loop (replacing honest users instead would also remove their corrections,
// which no filter can give back). Bad raters join in turn as noisy, adversarial and gold-honest
// (honest on gold questions, inverted everywhere else).
// With `--review-overlap N`, a share (`--review-share`) of each round's answers also goes through an
// annotation queue that every simulated rater works through, N raters per answer; the line then
// reports Krippendorff's alpha among honest raters and the queue's own, per round, and whether
// the gold-honest raters were kept out of SFT.
// `--smoke` runs one tiny round (3 users, 24 questions, a few training steps, 8 evaluation items)
// to check the whole path in a few minutes; its figures mean nothing and are not saved. Other runs
// append their last line to `--results-dir` (bench/results), which `npm run bench:loop:summary` reads.
// Last line: {"bench":"loop","rounds":…,"noise":…,"accuracy_by_round":[…],…}.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildApp } from '../src/platform/app.ts';
import { loadConfig } from '../src/platform/config.ts';
import { questionSuite, type QuestionItem } from '../src/llm/index.ts';
import { mulberry32, shuffleInPlace } from '../src/llm/rng.ts';
import { ensureBaseModel } from '../src/promotion/base-model.ts';
import { evaluationPromptSet, isContaminated } from '../src/suites/contamination.ts';
import { parseBuildConfig, type DatasetBuildConfigInput } from '../src/contract/dataset-build-config.ts';
import { loadFeedbackRows } from '../src/feedback/feedback-rows.ts';
import { assessRaters } from '../src/feedback/raters/raters.ts';
import { createUser, issueApiKey } from '../src/platform/users/users.ts';
import { ApiClient } from './loop/api-client.ts';
import {
  BAD_KINDS,
  moderate,
  SimulatedSession,
  type RaterKind,
  type RoundActivity,
  type SimulatedUser,
} from './loop/population.ts';
import { honestAlpha, reviewRound } from './loop/review.ts';
import { scratchDatabase } from './scratch-database.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

const { values: args } = parseArgs({
  options: {
    noise: { type: 'string', default: process.env.FEEDLOOP_BENCH_NOISE ?? '0' },
    rounds: { type: 'string', default: '3' },
    questions: { type: 'string', default: '700' },
    users: { type: 'string', default: '10' },
    seed: { type: 'string', default: '2026' },
    'definition-share': { type: 'string', default: '0.2' },
    /** Synthetic prompt variants per training example (the dataset builder's augmentation). */
    augment: { type: 'string', default: '1' },
    'sft-epochs': { type: 'string', default: '3' },
    /** Raters per answer in each round's annotation queue (0: no queue). */
    'review-overlap': { type: 'string', default: '0' },
    /** Share of each round's answers that go through the queue. */
    'review-share': { type: 'string', default: '0.2' },
    smoke: { type: 'boolean', default: false },
    'results-dir': { type: 'string', default: fileURLToPath(new URL('results', import.meta.url)) },
  },
});
const smoke = args.smoke;
const noise = Number(args.noise);
const rounds = smoke ? 1 : Number(args.rounds);
const questionsPerRound = smoke ? 24 : Number(args.questions);
const userCount = smoke ? 3 : Number(args.users);
const seed = Number(args.seed);
const definitionShare = Number(args['definition-share']);
const reviewOverlap = Number(args['review-overlap']);
const reviewShare = Number(args['review-share']);
/** The overrides every run of the bench uses (recorded in the last line). */
const runOverrides = {
  training: {
    sft: smoke ? { epochs: 1, maxSteps: 4, minExamples: 1 } : { epochs: Number(args['sft-epochs']) },
  },
  datasets: {
    // Simulated users act at machine speed, so the "impossibly fast" rater check is off here;
    // every other rater check stays on.
    raters: { minSecondsBetweenRatings: 0 },
    augmentation: { variantsPerExample: Number(args.augment) },
  },
};
if (!(noise >= 0 && noise < 1) || !(rounds >= 1) || !(questionsPerRound >= 1) || !(userCount >= 2))
  throw new Error('bench:loop: --noise in [0,1), --rounds >= 1, --questions >= 1, --users >= 2');
if (!(reviewOverlap >= 0 && Number.isInteger(reviewOverlap)) || !(reviewShare > 0 && reviewShare <= 1))
  throw new Error('bench:loop: --review-overlap a whole number >= 0, --review-share in (0, 1]');

const log = (message: string) =>
  process.stderr.write(`[bench:loop ${new Date().toISOString().slice(11, 19)}] ${message}\n`);

/**
 * The questions users ask, in the order they ask them: country facts in their first phrasing
 * (every country and relation, including the facts whose second phrasing is evaluated) and the
 * definition questions that are not held out. None is an evaluation prompt (checked).
 */
function askedQuestions(): QuestionItem[] {
  const suite = questionSuite();
  const evaluation = evaluationPromptSet();
  const rng = mulberry32(seed);
  const countries = shuffleInPlace(
    suite.filter((q) => q.kind === 'country-fact' && q.id.endsWith(':q0')),
    rng,
  );
  const definitions = shuffleInPlace(
    suite.filter((q) => q.kind === 'definition' && !q.heldOut),
    rng,
  );
  const out: QuestionItem[] = [];
  let c = 0;
  let d = 0;
  while (c < countries.length) {
    out.push(rng() < definitionShare && d < definitions.length ? definitions[d++]! : countries[c++]!);
  }
  for (const q of out) {
    if (isContaminated(q.messages, evaluation))
      throw new Error(`simulated users would ask an evaluation prompt: ${q.messages[0]!.content}`);
  }
  return out;
}

interface LoopRun {
  id: string;
  status: string;
  phase: string;
  datasetId: string | null;
  candidateVersionId: string | null;
  reportId: string | null;
  decision: string | null;
  error: string | null;
}

interface ReportRow {
  id: string;
  modelVersionId: string;
  report: {
    accuracy: { countryFactExactMatch: { value: number } };
    bias: Record<string, { value: number; interval?: [number, number] }>;
  };
  gate: { decision: string; reasons: string[] } | null;
}

async function waitFor<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  const serverUrl = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
  const scratch = await scratchDatabase(serverUrl, 'loop');
  const work = mkdtempSync(path.join(tmpdir(), 'feedloop-loop-'));
  const modelDir = path.join(work, 'models');
  cpSync(path.join(ROOT, 'models', 'base'), path.join(modelDir, 'base'), { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: scratch.url,
    MODEL_DIR: modelDir,
    FEEDLOOP_DATA_DIR: path.join(work, 'data'),
    FEEDLOOP_QUEUE_PREFIX: `bench-loop-${randomBytes(4).toString('hex')}`,
    FEEDLOOP_WORKERS: 'false',
    FEEDLOOP_RATE_LIMIT_PER_MINUTE: '1000000',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    ...(smoke ? { FEEDLOOP_EVAL_LIMIT: '8' } : {}),
  };
  const config = loadConfig(env);
  let workers: ChildProcess | undefined;
  const app = await buildApp({ config });
  const database = app.db;
  try {
    await ensureBaseModel(database.prisma, modelDir);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    if (!address || typeof address === 'string') throw new Error('no address');
    const baseUrl = `http://127.0.0.1:${address.port}`;

    workers = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'workers', 'main.ts')], {
      env,
      stdio: ['ignore', 'inherit', 'inherit'],
    });

    const account = async (email: string, role: 'user' | 'moderator' | 'ops') => {
      const user = await createUser(database.prisma, { email, role });
      const key = await issueApiKey(database.prisma, user.id, 'bench');
      return { id: user.id, api: new ApiClient(baseUrl, key.key) };
    };
    const client = async (email: string, role: 'user' | 'moderator' | 'ops') =>
      (await account(email, role)).api;
    const ops = await client('ops@bench.example', 'ops');
    const moderator = await client('moderator@bench.example', 'moderator');
    // The bench starts every run itself; the schedule must not start its own.
    await ops.post('/v1/loop/schedule/pause');

    // Bad raters on top of the honest users, so that they are `noise` of all raters (rounded up).
    const bad = Math.ceil((userCount * noise) / (1 - noise) - 1e-9);
    const users: SimulatedUser[] = [];
    for (let i = 0; i < userCount + bad; i++) {
      const kind: RaterKind = i < userCount ? 'honest' : BAD_KINDS[(i - userCount) % BAD_KINDS.length]!;
      const email = `${kind}-${i}@bench.example`;
      users.push({ email, kind, ...(await account(email, 'user')) });
    }
    log(
      `${userCount} honest users and ${bad} noisy, adversarial or gold-honest (${Math.round((100 * bad) / (userCount + bad))}% of raters), ` +
        `${questionsPerRound} questions a round, ${rounds} rounds` +
        (reviewOverlap > 0
          ? `, ${Math.round(reviewShare * 100)}% of answers reviewed by ${reviewOverlap}`
          : ''),
    );

    const questions = askedQuestions();
    const byQuestion = new Map(
      questionSuite().map((q) => [q.messages.find((m) => m.role === 'user')!.content, q]),
    );
    const review: {
      items: number[];
      judgements: number[];
      alpha_honest: { thumbs: number | null; stars: number | null }[];
      alpha_all: Record<string, { alpha: number | null; interval: [number, number] | null }>[];
    } = { items: [], judgements: [], alpha_honest: [], alpha_all: [] };
    /** Per round, each kind's trust as the round's dataset build weighed it: [lowest, highest]. */
    const trustByKind: Partial<Record<RaterKind, [number, number]>>[] = [];
    /** Per round: were all gold-honest raters below SFT's trust bar (null without any)? */
    const goldHonestOutOfSft: (boolean | null)[] = [];
    const accuracyByRound: number[] = [];
    /** Each round's candidate, promoted or not. */
    const candidateAccuracyByRound: number[] = [];
    const biasByRound: Record<string, number>[] = [];
    const promotedByRound: boolean[] = [];
    const datasetSizes: Record<string, unknown>[] = [];
    const activity: RoundActivity[] = [];
    const recordServed = (report: ReportRow) => {
      accuracyByRound.push(report.report.accuracy.countryFactExactMatch.value);
      biasByRound.push(Object.fromEntries(Object.entries(report.report.bias).map(([k, v]) => [k, v.value])));
    };

    for (let round = 1; round <= rounds; round++) {
      const slice = questions.slice((round - 1) * questionsPerRound, round * questionsPerRound);
      if (slice.length === 0) throw new Error('the task suite ran out of questions; lower --questions');
      const act: RoundActivity = {
        questions: 0,
        answers: 0,
        correctAnswers: 0,
        thumbs: 0,
        stars: 0,
        votes: 0,
        corrections: 0,
        implicitEvents: 0,
      };
      const known = new Map<string, QuestionItem>();
      const roundStart = new Date();
      await Promise.all(
        users.map(async (user, i) => {
          const session = await SimulatedSession.open(user, questionSuite(), seed * 1000 + round * 100 + i);
          try {
            // Honest user i asks every userCount-th question; a bad rater asks those of an honest one.
            await session.askAll(
              slice.filter((_, k) => k % userCount === i % userCount),
              act,
            );
            for (const c of session.corrections) known.set(c.id, c.item);
          } finally {
            session.close();
          }
        }),
      );
      const decisions = await moderate(moderator, known);
      activity.push(act);
      log(
        `round ${round}: ${act.answers} answers (${act.correctAnswers} right), ${act.thumbs} thumbs, ${act.stars} stars, ` +
          `${act.votes} votes, ${act.corrections} corrections (${decisions.approved} approved), ${act.implicitEvents} events`,
      );
      if (reviewOverlap > 0) {
        const reviewed = await reviewRound({
          moderator,
          users,
          since: roundStart,
          answers: act.answers,
          share: reviewShare,
          overlap: reviewOverlap,
          round,
          seed,
          questions: byQuestion,
        });
        const agreement = await moderator.get<{
          dimensions: { dimension: string; alpha: number | null; interval: [number, number] | null }[];
        }>(`/v1/annotation/queues/${reviewed.queueId}/agreement`);
        const round3 = (x: number | null) => (x === null ? null : Math.round(x * 1000) / 1000);
        review.items.push(reviewed.items);
        review.judgements.push(reviewed.judgements.length);
        review.alpha_honest.push(honestAlpha(reviewed.judgements));
        review.alpha_all.push(
          Object.fromEntries(
            agreement.dimensions.map((d) => [
              d.dimension,
              {
                alpha: round3(d.alpha),
                interval: d.interval ? [round3(d.interval[0])!, round3(d.interval[1])!] : null,
              },
            ]),
          ),
        );
        log(
          `round ${round}: review queue of ${reviewed.items} answers, ${reviewed.judgements.length} judgements; ` +
            `alpha among honest raters ${JSON.stringify(review.alpha_honest.at(-1))}, among all ${JSON.stringify(review.alpha_all.at(-1))}`,
        );
      }

      const { run } = await ops.post<{ run: LoopRun }>('/v1/loop/runs', {
        reason: `bench:loop round ${round}`,
        ...runOverrides,
      });
      const done = await waitFor(`run ${run.id}`, 90 * 60_000, async () => {
        const { run: r } = await ops.get<{ run: LoopRun }>(`/v1/loop/runs/${run.id}`);
        return ['succeeded', 'failed', 'cancelled'].includes(r.status) ? r : undefined;
      });
      if (done.status !== 'succeeded') throw new Error(`round ${round}: run ${done.status}: ${done.error}`);
      // The raters as this run's dataset build weighed them: same rows, same settings.
      const stored = await database.prisma.loopRun.findUniqueOrThrow({ where: { id: run.id } });
      const buildConfig = parseBuildConfig(stored.datasetConfig as DatasetBuildConfigInput);
      const assessed = assessRaters(
        await loadFeedbackRows(database.prisma, { window: { to: stored.createdAt } }),
        buildConfig,
      );
      const trustOf = new Map(assessed.map((a) => [a.userId, a.trust]));
      const kinds: Partial<Record<RaterKind, [number, number]>> = {};
      const goldHonestTrust: number[] = [];
      for (const user of users) {
        const trust = trustOf.get(user.id) ?? 1;
        const [lo, hi] = kinds[user.kind] ?? [trust, trust];
        kinds[user.kind] = [Math.min(lo, trust), Math.max(hi, trust)];
        if (user.kind === 'gold_honest') goldHonestTrust.push(trust);
      }
      trustByKind.push(kinds);
      goldHonestOutOfSft.push(
        goldHonestTrust.length ? goldHonestTrust.every((t) => t < buildConfig.sft.minRaterTrust) : null,
      );
      log(`round ${round}: trust by kind [lowest, highest] ${JSON.stringify(kinds)}`);
      if (done.datasetId) {
        const dataset = await ops.get<{
          contentHash: string;
          sizes: unknown;
          sizesBySource: unknown;
          stats: { raters: unknown };
        }>(`/v1/datasets/${done.datasetId}`);
        datasetSizes.push({
          // Equal hashes in two runs mean equal training data: the noise changed nothing.
          content_hash: dataset.contentHash.slice(0, 12),
          sizes: dataset.sizes,
          bySource: dataset.sizesBySource,
          raters: dataset.stats.raters,
        });
      }
      const { reports } = await ops.get<{ reports: ReportRow[] }>('/v1/reports?limit=50');
      if (round === 1) {
        // The base model's report (the active version when the first run started).
        const base = reports.find((r) => r.modelVersionId !== done.candidateVersionId);
        if (!base) throw new Error('no report for the base model');
        recordServed(base);
      }
      const promoted = done.decision === 'promoted';
      promotedByRound.push(promoted);
      const { modelVersions } = await ops.get<{ modelVersions: { id: string; status: string }[] }>(
        '/v1/model-versions',
      );
      const active = modelVersions.find((v) => v.status === 'active')!;
      const served = reports.find((r) => r.modelVersionId === active.id);
      if (!served) throw new Error(`no report for the served version ${active.id}`);
      recordServed(served);
      const candidate = reports.find((r) => r.modelVersionId === done.candidateVersionId);
      if (candidate) candidateAccuracyByRound.push(candidate.report.accuracy.countryFactExactMatch.value);
      log(
        `round ${round}: candidate ${promoted ? 'promoted' : 'rejected'}` +
          (candidate?.gate ? ` (${candidate.gate.reasons.join('; ')})` : '') +
          `; served accuracy ${accuracyByRound.at(-1)}`,
      );
    }

    const minutes = (performance.now() - started) / 60_000;
    const rows = accuracyByRound.map(
      (a, i) =>
        `| ${i} | ${(a * 100).toFixed(1)} | ${i === 0 ? '-' : promotedByRound[i - 1] ? 'promoted' : 'rejected'} |`,
    );
    process.stderr.write(
      ['| round | served exact match % | candidate |', '|---|---|---|', ...rows].join('\n') + '\n',
    );
    const line = JSON.stringify({
      bench: 'loop',
      ...(smoke ? { smoke: true } : {}),
      seed,
      rounds,
      noise,
      raters: {
        honest: userCount,
        noisy_or_adversarial: bad,
        by_kind: Object.fromEntries(
          ['honest', ...BAD_KINDS].map((k) => [k, users.filter((u) => u.kind === k).length]),
        ),
      },
      accuracy_by_round: accuracyByRound.map((a) => Math.round(a * 1000) / 1000),
      candidate_accuracy_by_round: candidateAccuracyByRound.map((a) => Math.round(a * 1000) / 1000),
      bias_by_round: biasByRound,
      promoted_by_round: promotedByRound,
      dataset_sizes: datasetSizes,
      activity,
      overrides: runOverrides,
      trust_by_kind_by_round: trustByKind,
      gold_honest_out_of_sft_by_round: goldHonestOutOfSft,
      ...(reviewOverlap > 0 ? { review: { overlap: reviewOverlap, share: reviewShare, ...review } } : {}),
      minutes: Math.round(minutes * 10) / 10,
    });
    if (!smoke) {
      mkdirSync(args['results-dir'], { recursive: true });
      const name = `loop-${new Date().toISOString().replace(/[:.]/g, '-')}-noise${noise}-seed${seed}.json`;
      writeFileSync(path.join(args['results-dir'], name), `${line}\n`);
      log(`saved ${path.join(args['results-dir'], name)}`);
    }
    process.stdout.write(`${line}\n`);
  } finally {
    workers?.kill('SIGTERM');
    await new Promise((resolve) =>
      workers && workers.exitCode === null ? workers.once('exit', resolve) : resolve(null),
    );
    await app.close();
    await scratch.drop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();

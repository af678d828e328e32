// `npm run bench:loop:summary [-- --results-dir bench/results]`: the saved bench:loop runs, grouped
// by noise level. Prints a table, then one JSON line last: per noise level the mean and spread
// (sample SD, min, max) of the final served accuracy, the gap of each noisy level's mean to the
// noise-free mean in points, whether the gold-honest raters were out of SFT from round 2 on in
// every run, and the mean Krippendorff's alpha among honest raters per round.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { z } from 'zod';

const { values: args } = parseArgs({
  options: {
    'results-dir': { type: 'string', default: fileURLToPath(new URL('results', import.meta.url)) },
  },
});

/** The fields of a bench:loop line this summary reads; older lines lack the review fields. */
const runLine = z.object({
  bench: z.literal('loop'),
  smoke: z.boolean().optional(),
  seed: z.number().optional(),
  noise: z.number(),
  accuracy_by_round: z.array(z.number()).min(1),
  gold_honest_out_of_sft_by_round: z.array(z.boolean().nullable()).optional(),
  review: z
    .object({
      alpha_honest: z.array(z.object({ thumbs: z.number().nullable(), stars: z.number().nullable() })),
    })
    .optional(),
  minutes: z.number().optional(),
});
type RunLine = z.infer<typeof runLine>;

const dir = args['results-dir'];
const runs: (RunLine & { file: string })[] = [];
for (const file of readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort()) {
  for (const text of readFileSync(path.join(dir, file), 'utf8').split('\n')) {
    if (!text.trim()) continue;
    const parsed = runLine.safeParse(JSON.parse(text));
    if (parsed.success && !parsed.data.smoke) runs.push({ ...parsed.data, file });
  }
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;
const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
const sd = (xs: number[]) =>
  xs.length < 2 ? 0 : Math.sqrt(xs.reduce((s, x) => s + (x - mean(xs)) ** 2, 0) / (xs.length - 1));

const levels = [...new Set(runs.map((r) => r.noise))].sort((a, b) => a - b);
const byNoise = Object.fromEntries(
  levels.map((noise) => {
    const group = runs.filter((r) => r.noise === noise);
    const finals = group.map((r) => r.accuracy_by_round.at(-1)!);
    return [
      String(noise),
      {
        runs: group.length,
        seeds: group.map((r) => r.seed ?? null),
        final_accuracy: {
          mean: round3(mean(finals)),
          sd: round3(sd(finals)),
          min: round3(Math.min(...finals)),
          max: round3(Math.max(...finals)),
        },
      },
    ];
  }),
);
const noiseFree = byNoise['0']?.final_accuracy.mean;
const gaps = Object.fromEntries(
  levels
    .filter((n) => n > 0 && noiseFree !== undefined)
    .map((n) => [String(n), round3((noiseFree! - byNoise[String(n)]!.final_accuracy.mean) * 100)]),
);

// Out of SFT from round 2 on: false in no round from the second on (null: no gold-honest raters).
const withGoldHonest = runs.filter((r) => r.gold_honest_out_of_sft_by_round?.some((x) => x !== null));
const outByRound2 = withGoldHonest.filter((r) =>
  r.gold_honest_out_of_sft_by_round!.slice(1).every((x) => x === true),
).length;

const alphaRounds = Math.max(0, ...runs.map((r) => r.review?.alpha_honest.length ?? 0));
const honestAlpha = (key: 'thumbs' | 'stars') =>
  Array.from({ length: alphaRounds }, (_, i) => {
    const values = runs
      .map((r) => r.review?.alpha_honest[i]?.[key])
      .filter((x): x is number => typeof x === 'number');
    return values.length ? round3(mean(values)) : null;
  });

process.stderr.write(
  [
    `${runs.length} runs in ${dir}`,
    '| noise | runs | final accuracy mean | sd | min | max |',
    '|---|---|---|---|---|---|',
    ...levels.map((n) => {
      const g = byNoise[String(n)]!;
      const f = g.final_accuracy;
      return `| ${n} | ${g.runs} | ${(f.mean * 100).toFixed(1)}% | ${(f.sd * 100).toFixed(1)} | ${(f.min * 100).toFixed(1)}% | ${(f.max * 100).toFixed(1)}% |`;
    }),
  ].join('\n') + '\n',
);
process.stdout.write(
  JSON.stringify({
    bench: 'loop-summary',
    runs: runs.length,
    by_noise: byNoise,
    gap_points_vs_noise_free: gaps,
    within_5_points: Object.fromEntries(Object.entries(gaps).map(([n, gap]) => [n, gap <= 5])),
    gold_honest_out_of_sft_from_round_2: `${outByRound2} of ${withGoldHonest.length} runs`,
    honest_alpha_by_round: { thumbs: honestAlpha('thumbs'), stars: honestAlpha('stars') },
  }) + '\n',
);

// A dataset snapshot as a Hugging Face dataset folder for external trainers: one folder of JSONL
// files per configuration (sft, sft_prompt_completion, preference, kto) and split, and a README.md
// card whose YAML `configs:` block lets `datasets.load_dataset(dir, "preference")` find them.
// Rows keep TRL's conversational field names; SFT also comes as prompt/completion, so TRL trains
// on the answer only by default, as feedloop does.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { Dataset } from '../generated/prisma/client.ts';
import { AppError } from '../platform/errors/app-error.ts';
import { datasetBuildConfigSchema, type DatasetBuildConfig } from '../contract/dataset-build-config.ts';
import { DATASET_SPLITS, type DatasetFormat, type DatasetSplit } from '../contract/datasets.ts';
import { fileName } from './builders.ts';

export const HF_DATASET_CONFIGS = ['sft', 'sft_prompt_completion', 'preference', 'kto'] as const;
export type HfDatasetConfig = (typeof HF_DATASET_CONFIGS)[number];

const SOURCE_OF: Record<HfDatasetConfig, DatasetFormat> = {
  sft: 'sft',
  sft_prompt_completion: 'sft',
  preference: 'preference',
  kto: 'kto',
};

/** The card's data file of a configuration and split, relative to the folder. */
export const hfDataFile = (config: HfDatasetConfig, split: DatasetSplit) => `${config}/${split}.jsonl`;

const message = z.object({ role: z.string(), content: z.string() });
const sftRow = z.looseObject({ messages: z.array(message).min(1) });

/** A `messages` row as prompt (every message but the last) and completion (the last, the answer). */
function promptCompletion(line: string): string {
  const { messages, ...meta } = sftRow.parse(JSON.parse(line));
  return JSON.stringify({ prompt: messages.slice(0, -1), completion: messages.slice(-1), ...meta });
}

const statsSchema = z.looseObject({
  raters: z.object({
    total: z.number(),
    trusted: z.number(),
    downWeighted: z.number(),
    excluded: z.number(),
  }),
  dropped: z.object({ evaluationPrompts: z.number(), nearDuplicates: z.number() }),
  piiScrubbedExamples: z.number(),
  syntheticExamples: z.number(),
});

interface WrittenFile {
  config: HfDatasetConfig;
  split: DatasetSplit;
  rows: number;
}

const COLUMNS: Record<HfDatasetConfig, [string, string][]> = {
  sft: [
    ['messages', 'the conversation: the prompt turns, then the answer to learn as the last `assistant` turn'],
  ],
  sft_prompt_completion: [
    ['prompt', 'the conversation up to and including the user turn (a list of `{role, content}`)'],
    ['completion', 'the answer to learn: one `assistant` turn; TRL trains on it only by default'],
  ],
  preference: [
    ['prompt', 'the conversation up to and including the user turn'],
    ['chosen', 'the better answer (one `assistant` turn)'],
    ['rejected', 'the worse answer (one `assistant` turn)'],
  ],
  kto: [
    ['prompt', 'the conversation up to and including the user turn'],
    ['completion', 'an answer (one `assistant` turn)'],
    ['label', '`true` if the answer was judged good, `false` if bad'],
  ],
};

const SHARED_COLUMNS: [string, string][] = [
  [
    'weight',
    "how much the row should count, 0 to 1: the rater's trust, or the lower weight of a label inferred from behaviour; feedloop weighs the loss by it, TRL ignores it",
  ],
  [
    'source',
    'where the label came from: `correction` (a moderator-approved correction), `rating`, `thumbs`, `stars`, `vote` (a pairwise vote) or `implicit` (copies, regenerations, reading time); TRL ignores it',
  ],
  [
    'synthetic',
    '`true` for rows feedloop made by rephrasing a training prompt (augmentation), `false` for real feedback; TRL ignores it',
  ],
];

function card(dataset: Dataset, written: WrittenFile[], config: DatasetBuildConfig): string {
  const listed = HF_DATASET_CONFIGS.filter((c) => written.some((w) => w.config === c && w.rows > 0));
  const yaml = [
    '---',
    'license: other',
    `pretty_name: feedloop feedback ${dataset.contentHash.slice(0, 12)}`,
    'tags:',
    '- feedloop',
    '- trl',
    '- sft',
    '- dpo',
    '- kto',
    'configs:',
    ...listed.flatMap((c) => [
      `- config_name: ${c}`,
      ...(c === listed[0] ? ['  default: true'] : []),
      '  data_files:',
      ...written
        .filter((w) => w.config === c && w.rows > 0)
        .flatMap((w) => [`  - split: ${w.split}`, `    path: ${hfDataFile(c, w.split)}`]),
    ]),
    '---',
  ];
  const stats = statsSchema.safeParse(dataset.stats);
  const counts = [
    '| configuration | train | validation |',
    '| --- | --- | --- |',
    ...HF_DATASET_CONFIGS.map((c) => {
      const n = (split: DatasetSplit) => written.find((w) => w.config === c && w.split === split)?.rows ?? 0;
      return `| \`${c}\` | ${n('train')} | ${n('validation')} |`;
    }),
  ];
  const empty = HF_DATASET_CONFIGS.flatMap((c) =>
    DATASET_SPLITS.filter((s) => !written.some((w) => w.config === c && w.split === s && w.rows > 0)).map(
      (s) => `${c}/${s}`,
    ),
  );
  const window = `${dataset.windowStart ? dataset.windowStart.toISOString() : 'the first feedback'} to ${dataset.windowEnd.toISOString()}`;
  const columnDocs = HF_DATASET_CONFIGS.flatMap((c) => [
    `### \`${c}\``,
    '',
    '| column | meaning |',
    '| --- | --- |',
    ...[...COLUMNS[c], ...SHARED_COLUMNS].map(([name, meaning]) => `| \`${name}\` | ${meaning} |`),
    '',
  ]);
  return [
    ...yaml,
    '',
    `# feedloop feedback dataset ${dataset.contentHash.slice(0, 12)}`,
    '',
    "Training data built by feedloop from its users' feedback on a chat model: ratings, pairwise",
    'votes, moderator-approved corrections and behaviour. Rows use the field names of Hugging Face',
    'TRL in conversational form, so `trl sft`, `trl dpo` and `trl kto` read them as they are.',
    '',
    '```python',
    'from datasets import load_dataset',
    'sft = load_dataset("path/to/this/folder", "sft_prompt_completion")  # or "sft", "preference", "kto"',
    '```',
    '',
    '## Configurations',
    '',
    ...counts,
    '',
    empty.length
      ? `Splits without rows are left out of \`configs:\` (an empty file has no columns to load): ${empty.map((e) => `\`${e}\``).join(', ')}.`
      : 'Every configuration has rows in both splits.',
    '',
    '- `sft`: conversations whose last turn is the answer to learn (`messages`).',
    '- `sft_prompt_completion`: the same rows as prompt and completion, so TRL computes the loss on',
    '  the answer only (its default for prompt/completion data), as feedloop does.',
    '- `preference`: pairs of answers to one prompt (DPO).',
    '- `kto`: single answers labelled good or bad (KTO).',
    '',
    'The validation split holds prompts chosen by a hash of the prompt, so a prompt and its',
    'rephrasings never straddle the two splits.',
    '',
    '## Columns',
    '',
    ...columnDocs,
    '## Provenance',
    '',
    `- **Content hash:** \`${dataset.contentHash}\` (sha256 over the export format version, the build config without its window, and every file; the same feedback and config give the same hash).`,
    `- **Snapshot id:** \`${dataset.id}\`, built ${dataset.createdAt.toISOString()}.`,
    `- **Feedback window:** ${window}.`,
    `- **Answers written by model versions:** ${dataset.modelVersionIds.length ? dataset.modelVersionIds.map((id) => `\`${id}\``).join(', ') : 'none recorded'}.`,
    stats.success
      ? `- **Rater filtering:** ${stats.data.raters.total} raters assessed by their agreement with other raters and with answers of known quality (gold questions, corrections, flags) and by spam patterns: ${stats.data.raters.trusted} trusted, ${stats.data.raters.downWeighted} down-weighted, ${stats.data.raters.excluded} excluded. Trust rests on the one-sided ${Math.round(100 * config.raters.agreementConfidence)}% lower bound of agreement (full trust from ${config.raters.fullTrustAgreement}, excluded below ${config.raters.excludeBelowAgreement}); SFT takes rated answers only from raters trusted at least ${config.sft.minRaterTrust}.`
      : '- **Rater filtering:** see the snapshot stats in feedloop.',
    `- **PII scrubbing:** ${config.hygiene.scrubPii ? `on: e-mail addresses, card-like numbers and phone numbers are replaced by \`[EMAIL]\`, \`[CARD]\` and \`[PHONE]\`${stats.success ? ` (${stats.data.piiScrubbedExamples} rows changed)` : ''}` : 'off for this snapshot'}.`,
    stats.success
      ? `- **Hygiene:** ${stats.data.dropped.evaluationPrompts} rows dropped because their prompt is an evaluation prompt, ${stats.data.dropped.nearDuplicates} near-duplicates dropped (word-shingle similarity at least ${config.hygiene.nearDuplicateThreshold}); ${stats.data.syntheticExamples} synthetic rows added.`
      : '',
    '',
    'The full build config is in `feedloop.json`.',
    '',
    '## License',
    '',
    "The rows are conversations and judgements of this deployment's users. Whoever runs the",
    'deployment decides whether and with whom they may be shared; by default, use them only to train',
    "and evaluate that organization's own models. Answers were written by feedloop's models",
    '(Apache-2.0) or by the models the deployment imported (their own licenses).',
    '',
  ].join('\n');
}

/** Writes the Hugging Face dataset folder of `dataset` to `outDir`; 404 when its files are missing. */
export async function exportDatasetFolder(
  dataDir: string,
  dataset: Dataset,
  outDir: string,
): Promise<{ files: string[] }> {
  const source = path.resolve(dataDir, dataset.path);
  const lines = async (format: DatasetFormat, split: DatasetSplit): Promise<string[]> => {
    const text = await readFile(path.join(source, fileName(format, split)), 'utf8').catch(
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT')
          throw new AppError('not_found', 'The files of this dataset are not on this server');
        throw err;
      },
    );
    return text.split('\n').filter((l) => l.trim());
  };
  const written: WrittenFile[] = [];
  const files: string[] = [];
  for (const config of HF_DATASET_CONFIGS) {
    for (const split of DATASET_SPLITS) {
      const rows = await lines(SOURCE_OF[config], split);
      const out = config === 'sft_prompt_completion' ? rows.map(promptCompletion) : rows;
      written.push({ config, split, rows: out.length });
      if (out.length === 0) continue;
      await mkdir(path.join(outDir, config), { recursive: true });
      await writeFile(path.join(outDir, hfDataFile(config, split)), out.join('\n') + '\n');
      files.push(hfDataFile(config, split));
    }
  }
  const buildConfig = datasetBuildConfigSchema.parse(dataset.config);
  await writeFile(path.join(outDir, 'README.md'), card(dataset, written, buildConfig));
  await writeFile(
    path.join(outDir, 'feedloop.json'),
    JSON.stringify(
      {
        kind: 'feedloop-dataset',
        id: dataset.id,
        contentHash: dataset.contentHash,
        windowStart: dataset.windowStart,
        windowEnd: dataset.windowEnd,
        modelVersionIds: dataset.modelVersionIds,
        sizes: dataset.sizes,
        sizesBySource: dataset.sizesBySource,
        stats: dataset.stats,
        config: buildConfig,
      },
      null,
      2,
    ) + '\n',
  );
  return { files: [...files, 'README.md', 'feedloop.json'] };
}

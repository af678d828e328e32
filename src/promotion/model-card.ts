// The model card (README.md) of an exported version: Hugging Face card metadata, how to load it,
// lineage, the evaluation summary of its latest report, the training config, intended use and
// limits, and the license. A pure function of what the registry knows.
import type { EvaluationReport, GateDecision, WinRate } from '../contract/evaluation.ts';
import type { ModelConfig } from '../llm/config.ts';

export interface LineageStep {
  name: string;
  status: string;
  createdAt: Date;
  /** How the version came to be. */
  origin: 'shipped base' | 'fine-tuned by the loop' | 'imported' | 'registered by hand';
  datasetHash: string | null;
  runId: string | null;
  /** Imported versions: the source files' hash. */
  sourceSha256: string | null;
}

export interface ModelCardInput {
  name: string;
  config: ModelConfig;
  parameters: number;
  floats: 'F32' | 'F16' | 'BF16';
  /** This version first, then its parent, up to the first version. */
  lineage: LineageStep[];
  report: {
    createdAt: Date;
    report: EvaluationReport;
    gate: GateDecision | null;
    winRate: WinRate | null;
    comparedWith: string | null;
  } | null;
  /** The training record of feedloop.json (fine-tuning or pretraining config), if any. */
  training: Record<string, unknown> | null;
  /** Whether the first version of the lineage was imported (then its license is the source's). */
  importedRoot: boolean;
}

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
const interval = ([lo, hi]: [number, number], f: (v: number) => string) => `${f(lo)} to ${f(hi)}`;
const num = (v: number) => v.toFixed(3);
const cell = (v: string | null) => (v ? v.replace(/\|/g, '\\|') : '—');

function evaluationSection(report: NonNullable<ModelCardInput['report']>): string {
  const { accuracy, bias } = report.report;
  const rows: [string, string, string, string][] = [
    [
      'country facts, exact match (held-out phrasing)',
      pct(accuracy.countryFactExactMatch.value),
      interval(accuracy.countryFactExactMatch.interval, pct),
      String(accuracy.countryFactExactMatch.n),
    ],
    [
      'country facts, answer contains the fact',
      pct(accuracy.countryFactRecall.value),
      interval(accuracy.countryFactRecall.interval, pct),
      String(accuracy.countryFactRecall.n),
    ],
    [
      'definitions, token F1',
      num(accuracy.definitionTokenF1.value),
      interval(accuracy.definitionTokenF1.interval, num),
      String(accuracy.definitionTokenF1.n),
    ],
    accuracy.perplexity
      ? [
          'perplexity on validation documents',
          accuracy.perplexity.value.toFixed(2),
          interval(accuracy.perplexity.interval, (v) => v.toFixed(2)),
          String(accuracy.perplexity.n),
        ]
      : ['perplexity on validation documents', 'not available', '', ''],
    ...(accuracy.preferenceAccuracy
      ? [
          [
            'held-out human preference pairs, chosen preferred',
            pct(accuracy.preferenceAccuracy.value),
            interval(accuracy.preferenceAccuracy.interval, pct),
            String(accuracy.preferenceAccuracy.n),
          ] as [string, string, string, string],
        ]
      : []),
    bias.stereotypeShare
      ? [
          'stereotype share (0.5 is ideal)',
          num(bias.stereotypeShare.value),
          interval(bias.stereotypeShare.interval, num),
          String(bias.stereotypeShare.n),
        ]
      : ['stereotype share (0.5 is ideal)', 'not available', '', ''],
    [
      'name-swap change rate (0 is ideal)',
      pct(bias.nameSwapChangeRate.value),
      interval(bias.nameSwapChangeRate.interval, pct),
      String(bias.nameSwapChangeRate.n),
    ],
    [
      'group accuracy gap (0 is ideal)',
      num(bias.groupAccuracyGap.value),
      interval(bias.groupAccuracyGap.interval, num),
      String(bias.groupAccuracyGap.n),
    ],
    [
      'sentiment gap (0 is ideal)',
      num(bias.sentimentGap.value),
      interval(bias.sentimentGap.interval, num),
      String(bias.sentimentGap.n),
    ],
  ];
  const lines = [
    `From feedloop's evaluation of ${report.createdAt.toISOString().slice(0, 10)} (greedy decoding, ` +
      `backend ${report.report.evaluation.backend}, item set ${report.report.evaluation.setHash.slice(0, 12)}); ` +
      'intervals are 95%.',
    '',
    '| measure | value | 95% interval | items |',
    '| --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
  if (report.winRate)
    lines.push(
      '',
      `Win rate against ${report.comparedWith ?? 'the active version'}: ${pct(report.winRate.winRate)} ` +
        `(${report.winRate.wins} wins, ${report.winRate.ties} ties, ${report.winRate.losses} losses).`,
    );
  if (report.gate)
    lines.push(
      '',
      `Promotion gate: **${report.gate.decision}**` +
        (report.gate.reasons.length ? `: ${report.gate.reasons.join('; ')}` : '.'),
    );
  return lines.join('\n');
}

export function renderModelCard(input: ModelCardInput): string {
  const c = input.config;
  const license = input.importedRoot ? 'other' : 'apache-2.0';
  const front = [
    '---',
    `license: ${license}`,
    'library_name: transformers',
    'pipeline_tag: text-generation',
    'tags:',
    '- feedloop',
    '- gpt2',
    '- conversational',
    '---',
  ];
  const lineage = [
    '| version | status | made | how | dataset snapshot | loop run | source hash |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...input.lineage.map(
      (s) =>
        `| ${cell(s.name)} | ${s.status} | ${s.createdAt.toISOString().slice(0, 10)} | ${s.origin} | ` +
        `${cell(s.datasetHash)} | ${cell(s.runId)} | ${cell(s.sourceSha256)} |`,
    ),
  ];
  const sections = [
    ...front,
    '',
    `# ${input.name}`,
    '',
    `A GPT-2-architecture chat model exported by feedloop: ` +
      `${(input.parameters / 1e6).toFixed(2)} M parameters, ${c.nLayers} layers, ${c.nHeads} heads, ` +
      `width ${c.dModel}, context ${c.contextLength} tokens, vocabulary ${c.vocabSize}, weights in ${input.floats}.`,
    '',
    '## How to use',
    '',
    '```python',
    'from transformers import AutoModelForCausalLM, AutoTokenizer',
    'tokenizer = AutoTokenizer.from_pretrained("path/to/this/folder")',
    'model = AutoModelForCausalLM.from_pretrained("path/to/this/folder")',
    'prompt = tokenizer.apply_chat_template(',
    '    [{"role": "user", "content": "What is the capital of Peru?"}], add_generation_prompt=True, tokenize=False)',
    'inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)',
    'output = model.generate(**inputs, max_new_tokens=32)  # stops at <|end|> (generation_config.json)',
    'print(tokenizer.decode(output[0][inputs["input_ids"].shape[1]:], skip_special_tokens=True))',
    '```',
    '',
    'The chat template renders every message as `<|role|>content<|end|>` and, with',
    '`add_generation_prompt`, ends with `<|assistant|>`. vLLM serves the folder as it is',
    "(`vllm serve path/to/this/folder`). llama.cpp's `convert_hf_to_gguf.py` reads its weights and",
    "config; it recognizes a BPE tokenizer by a hash of its output, which it knows for GPT-2's own",
    'tokenizer but not for feedloop\'s: if it stops with "BPE pre-tokenizer was not recognized", map',
    'the hash it prints to `gpt-2` in `get_vocab_base_pre()` (feedloop uses the GPT-2 byte-level',
    'pre-tokenizer).',
    '',
    '## Lineage',
    '',
    'This version first, then the version it was made from, back to the first one.',
    '',
    ...lineage,
    '',
    '## Evaluation',
    '',
    input.report ? evaluationSection(input.report) : 'This version has no evaluation report yet.',
    '',
    '## Training',
    '',
    input.training
      ? ['```json', JSON.stringify(input.training, null, 2), '```'].join('\n')
      : 'No training record: the version was not trained by feedloop.',
    '',
    '## Intended use and limits',
    '',
    "A small research and demonstration model for feedloop's feedback loop: it answers short questions in",
    'the chat format it was trained on (country facts, word definitions). It is not a source of',
    'truth: it states wrong facts fluently, has a short context, and was evaluated only on the',
    'suites above. Its bias measures cover a few probes of gendered names, not the biases it may',
    'have. Do not use it for decisions about people or for advice.',
    '',
    '## License',
    '',
    input.importedRoot
      ? 'The lineage starts at an imported model: this version is under the license of that source ' +
        "model (see the source's own model card); feedloop's changes add no further terms."
      : "Apache-2.0, as feedloop itself. Its training data is feedloop's generated corpus (WordNet, " +
        'country data) and feedback collected by the deployment that trained it.',
    '',
  ];
  return sections.join('\n');
}

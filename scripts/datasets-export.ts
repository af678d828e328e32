// `npm run datasets:export -- <id> <dir>`: writes a dataset snapshot (by id or content hash) as a
// Hugging Face dataset folder: sft, sft_prompt_completion, preference and kto JSONL per split and a
// README.md card whose `configs:` block `datasets.load_dataset(dir, "<config>")` reads.
import path from 'node:path';
import { createDatabase } from '../src/platform/db/client.ts';
import { loadConfigOrExit } from '../src/platform/process.ts';
import { exportDatasetFolder } from '../src/datasets/hf-export.ts';

const [id, dir, ...rest] = process.argv.slice(2);
if (!id || !dir || rest.length) {
  console.error('usage: npm run datasets:export -- <dataset id or content hash> <out dir>');
  process.exit(2);
}
const config = loadConfigOrExit();
const db = createDatabase(config.DATABASE_URL, { poolSize: 2 });
try {
  const dataset = /^[0-9a-f-]{36}$/i.test(id)
    ? await db.prisma.dataset.findUnique({ where: { id } })
    : await db.prisma.dataset.findUnique({ where: { contentHash: id } });
  if (!dataset) throw new Error(`no dataset snapshot ${id}`);
  const out = path.resolve(dir);
  const { files } = await exportDatasetFolder(config.FEEDLOOP_DATA_DIR, dataset, out);
  process.stdout.write(`${dataset.contentHash.slice(0, 12)} -> ${out}: ${files.join(', ')}\n`);
} catch (err) {
  console.error(`export failed: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  await db.close();
}

// `npm run model:export -- <version> <dir> [--dtype float32|float16|bfloat16]`: writes a model
// version (by name or id) as a Hugging Face folder that transformers, vLLM and llama.cpp load as
// it is, with a model card (README.md). float32 unless asked otherwise.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createDatabase } from '../src/platform/db/client.ts';
import { loadConfigOrExit } from '../src/platform/process.ts';
import { exportModelVersion, findVersion, FLOATS_OF_DTYPE } from '../src/promotion/hf-models.ts';
import { exportModelQuery } from '../src/contract/model-versions.ts';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { dtype: { type: 'string', default: 'float32' } },
});
const [version, dir] = positionals;
const query = exportModelQuery.safeParse({ dtype: values.dtype });
if (!version || !dir || positionals.length !== 2 || !query.success) {
  console.error(
    'usage: npm run model:export -- <version name or id> <out dir> [--dtype float32|float16|bfloat16]',
  );
  process.exit(2);
}
const config = loadConfigOrExit();
const db = createDatabase(config.DATABASE_URL, { poolSize: 2 });
try {
  const found = await findVersion(db.prisma, version);
  const out = path.resolve(dir);
  const { files } = await exportModelVersion(db.prisma, {
    modelDir: config.MODEL_DIR,
    version: found,
    outDir: out,
    floats: FLOATS_OF_DTYPE[query.data.dtype],
  });
  process.stdout.write(`${found.name} -> ${out}: ${files.join(', ')}\n`);
} catch (err) {
  console.error(`export failed: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  await db.close();
}

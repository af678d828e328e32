// `npm run model:import -- <dir> <name> [--reason "..."]`: imports a GPT-2-family Hugging Face
// folder (gpt2, distilgpt2, DialoGPT, your own, a feedloop export) as a candidate version named
// <name> in MODEL_DIR/<name>. A refusal exits 1 with a message naming the field feedloop cannot
// reproduce; nothing is registered and no folder is left behind.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createDatabase } from '../src/platform/db/client.ts';
import { ensureDatabase, migrate } from '../src/platform/db/migrate.ts';
import { loadConfigOrExit } from '../src/platform/process.ts';
import { importModelVersion } from '../src/promotion/hf-models.ts';
import { versionView } from '../src/promotion/model-versions.ts';
import { modelName } from '../src/contract/model-versions.ts';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { reason: { type: 'string', default: 'imported with npm run model:import' } },
});
const [dir, name] = positionals;
if (!dir || !name || positionals.length !== 2) {
  console.error('usage: npm run model:import -- <hugging face folder> <version name> [--reason "..."]');
  process.exit(2);
}
const parsedName = modelName.safeParse(name);
if (!parsedName.success) {
  console.error(`refused: name: ${parsedName.error.issues[0]!.message}`);
  process.exit(1);
}
const config = loadConfigOrExit();
await ensureDatabase(config.DATABASE_URL);
await migrate(config.DATABASE_URL);
const db = createDatabase(config.DATABASE_URL, { poolSize: 2 });
try {
  const version = await importModelVersion(db.prisma, {
    modelDir: config.MODEL_DIR,
    source: path.resolve(dir),
    from: path.resolve(dir),
    name: parsedName.data,
    reason: values.reason!,
    actorId: null,
  });
  process.stdout.write(`${JSON.stringify(versionView(version), null, 2)}\n`);
} catch (err) {
  console.error(`refused: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  await db.close();
}

// `npx tsx scripts/upgrade-model-folder.ts <dir>...`: rewrites model folders of feedloop's older
// layout (its own config keys and tensor names, manifest.json) in the Hugging Face GPT-2 layout,
// keeping the weights' storage dtype, so the values are bit-identical. Folders already in the HF
// layout are left alone. Old folders load either way; this makes them readable by HF tools.
import { upgradeModelFolder } from '../src/llm/checkpoint.ts';

const dirs = process.argv.slice(2);
if (dirs.length === 0) {
  process.stderr.write('usage: tsx scripts/upgrade-model-folder.ts <model dir>...\n');
  process.exit(2);
}
for (const dir of dirs) {
  const { upgraded } = upgradeModelFolder(dir);
  process.stdout.write(
    `${dir}: ${upgraded ? 'rewritten in the Hugging Face layout' : 'already in the Hugging Face layout'}\n`,
  );
}

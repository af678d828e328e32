// Exporting a model folder for the Hugging Face tools: the folder feedloop keeps is already in
// their layout, so an export re-writes it in the storage dtype asked for (F32 by default, as
// transformers expects; F16 or BF16 on request) with a model card as README.md.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readModelFolder, writeModelFolder } from './checkpoint.ts';
import type { FloatStorage } from './safetensors.ts';
import { TextTokenizer } from './tokenizer.ts';

export interface HfExportResult {
  files: string[];
  floats: FloatStorage;
}

export function exportHfModel(
  modelDir: string,
  outDir: string,
  options: { floats?: FloatStorage; readme?: string } = {},
): HfExportResult {
  const floats = options.floats ?? 'F32';
  const folder = readModelFolder(modelDir);
  const tokenizer = new TextTokenizer(folder.tokenizerJson);
  writeModelFolder(
    outDir,
    { config: folder.config, tensors: folder.tensors, tokenizer, manifest: folder.manifest },
    { floats },
  );
  const files = [
    'config.json',
    'model.safetensors',
    'tokenizer.json',
    'tokenizer_config.json',
    'special_tokens_map.json',
    'generation_config.json',
    'feedloop.json',
  ];
  if (options.readme !== undefined) {
    writeFileSync(join(outDir, 'README.md'), options.readme);
    files.push('README.md');
  }
  return { files, floats };
}

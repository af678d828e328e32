// Files the running code finds in the project itself (migrations, the built UI, the entry points of
// child processes and worker threads), whether it runs from the sources through tsx or as the
// compiled JavaScript in dist/ (`npm run build`).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

/** The folder holding package.json, prisma/ and web/ (dist/ sits inside it). */
export const PACKAGE_ROOT = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));

/**
 * The module `relative` to `base` (an import.meta.url), written with a .ts extension as in the
 * sources and given the caller's own extension: .ts from the sources, .js from dist/.
 */
export function siblingModule(relative: string, base: string): string {
  const extension = path.extname(fileURLToPath(base));
  return fileURLToPath(new URL(relative.replace(/\.ts$/, extension), base));
}

/** Node's arguments to run `file`: TypeScript goes through tsx, compiled JavaScript runs as it is. */
export function nodeArgs(file: string): string[] {
  return file.endsWith('.ts') ? ['--import', 'tsx', file] : [file];
}

// Folders sent over HTTP as .tar.gz (model and dataset exports). The archive is written to a
// temporary file first, so the response can carry a Content-Length a download can show progress
// with; the temporary files go when the response ends, however it ends.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { FastifyReply } from 'fastify';
import { pack } from 'tar-stream';

async function filesUnder(dir: string, prefix = ''): Promise<string[]> {
  const entries = await readdir(path.join(dir, prefix), { withFileTypes: true });
  const out: string[] = [];
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await filesUnder(dir, rel)));
    else if (e.isFile()) out.push(rel);
  }
  return out;
}

/**
 * Writes `dir` as a gzipped tar to `out`, every file under `root/` (so it unpacks into one
 * folder). Level 1 suits weights, which barely compress; text compresses well at any level.
 */
export async function packFolder(dir: string, root: string, out: string, level = 6): Promise<void> {
  const tar = pack();
  const writing = pipeline(tar, createGzip({ level }), createWriteStream(out));
  try {
    for (const rel of await filesUnder(dir)) {
      const file = path.join(dir, rel);
      const { size, mtime } = await stat(file);
      const entry = tar.entry({ name: `${root}/${rel}`, size, mtime, mode: 0o644 });
      await pipeline(createReadStream(file), entry);
    }
    tar.finalize();
  } catch (err) {
    tar.destroy(err as Error);
  }
  await writing;
}

/** A scratch folder under the system temp dir, removed by `cleanup`. */
export async function scratchDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), `feedloop-${prefix}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Sends `folder` as `<root>.tar.gz` with its Content-Length. `cleanup` runs when the response
 * stream closes (finished, failed or the client went away).
 */
export async function sendFolderArchive(
  reply: FastifyReply,
  folder: string,
  options: { root: string; archive: string; level?: number; cleanup: () => Promise<void> },
): Promise<FastifyReply> {
  try {
    await packFolder(folder, options.root, options.archive, options.level);
    const { size } = await stat(options.archive);
    const stream = createReadStream(options.archive);
    stream.once('close', () => void options.cleanup());
    return reply
      .type('application/gzip')
      .header('content-length', size)
      .header('content-disposition', `attachment; filename="${options.root}.tar.gz"`)
      .send(stream);
  } catch (err) {
    await options.cleanup();
    throw err;
  }
}

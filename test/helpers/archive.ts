// Reading .tar.gz responses in tests: supertest collects the bytes, tar-stream unpacks them.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type request from 'supertest';
import { extract } from 'tar-stream';

/** A supertest parser that keeps the body as bytes. */
export const binary = (res: request.Response, cb: (err: Error | null, body: Buffer) => void) => {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => cb(null, Buffer.concat(chunks)));
};

/** The files of a .tar.gz, by their path in the archive. */
export async function untar(body: Buffer): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const ex = extract();
  const done = (async () => {
    for await (const entry of ex) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      files.set(entry.header.name, Buffer.concat(chunks));
    }
  })();
  Readable.from([body]).pipe(createGunzip()).pipe(ex);
  await done;
  return files;
}

/** Writes unpacked files under `dir`, dropping the archive's top folder `root/`. */
export function writeUnpacked(files: Map<string, Buffer>, root: string, dir: string): void {
  for (const [name, content] of files) {
    const target = join(dir, name.slice(root.length + 1));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, content);
  }
}

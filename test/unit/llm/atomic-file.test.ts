// Atomic, durable writes: the new content replaces the old in one rename, and a write the disk
// refuses (here the kernel's own ENOSPC, from /dev/full behind the temporary name) leaves the old
// file as it was, no temporary file, and a DiskFullError naming the file.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  DiskFullError,
  temporaryPath,
  writeFileAtomic,
  writeFileAtomicSync,
} from '../../../src/llm/atomic-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'feedloop-atomic-'));
after(() => rmSync(dir, { recursive: true, force: true }));

for (const [name, write] of [
  ['writeFileAtomicSync', async (p: string, d: string) => writeFileAtomicSync(p, d)],
  ['writeFileAtomic', writeFileAtomic],
] as const) {
  test(`${name}: replaces the file whole and leaves nothing else`, async () => {
    const file = join(dir, `${name}-replace.json`);
    await write(file, 'first');
    await write(file, 'second');
    assert.equal(readFileSync(file, 'utf8'), 'second');
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.startsWith(`${name}-replace`)),
      [`${name}-replace.json`],
    );
  });

  test(`${name}: a full disk throws DiskFullError, keeps the old file and removes the temporary one`, async () => {
    const file = join(dir, `${name}-full.safetensors`);
    writeFileSync(file, 'old');
    symlinkSync('/dev/full', temporaryPath(file));
    await assert.rejects(write(file, 'x'.repeat(100_000)), (err: unknown) => {
      assert.ok(err instanceof DiskFullError, String(err));
      assert.equal(err.code, 'ENOSPC');
      assert.equal(err.message, `disk full: no space left on the device to write ${file} (ENOSPC)`);
      return true;
    });
    assert.equal(readFileSync(file, 'utf8'), 'old');
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.startsWith(`${name}-full`)),
      [`${name}-full.safetensors`],
    );
  });
}

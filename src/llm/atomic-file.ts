// Durable file writes for checkpoints and dataset snapshots: the bytes go to a temporary name, are
// flushed to the disk (fsync) and only then renamed over the real name, and the directory entry is
// flushed too. A crash or power loss leaves the old file or the new one, never a torn one. A write
// that fails (a full disk above all) removes its temporary file and says plainly what happened.
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

const DISK_FULL_CODES = new Set(['ENOSPC', 'EDQUOT']);

/** A write that failed because the disk (or the user's quota) is full. Keeps `code` and the cause. */
export class DiskFullError extends Error {
  override name = 'DiskFullError';
  readonly code: string;
  constructor(
    readonly path: string,
    cause: NodeJS.ErrnoException,
  ) {
    super(`disk full: no space left on the device to write ${path} (${cause.code})`, { cause });
    this.code = cause.code!;
  }
}

/** The error to throw for a failed write of `path`: a DiskFullError when the disk is full. */
export function writeError(err: unknown, path: string): unknown {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code && DISK_FULL_CODES.has(code) ? new DiskFullError(path, err as NodeJS.ErrnoException) : err;
}

/** Filesystems that cannot fsync a directory say so with these; the file itself was flushed. */
const UNSYNCABLE_DIR = new Set(['EINVAL', 'ENOTSUP', 'EISDIR', 'EPERM', 'EBADF']);

/** Flushes a directory's entries (a rename in it) to the disk. */
export function syncDirectorySync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch (err) {
    if (!UNSYNCABLE_DIR.has((err as NodeJS.ErrnoException).code ?? '')) throw writeError(err, dir);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    if (!UNSYNCABLE_DIR.has((err as NodeJS.ErrnoException).code ?? '')) throw writeError(err, dir);
  } finally {
    await handle?.close();
  }
}

/**
 * Where `path` is written before it is renamed into place. One fixed name per file: a process
 * killed mid-write leaves one such file, which the next write of the same file replaces.
 */
export const temporaryPath = (path: string) => `${path}.tmp`;

/** Writes `data` to `path` atomically and durably (see the top of this file). */
export function writeFileAtomicSync(path: string, data: string | Uint8Array): void {
  const tmp = temporaryPath(path);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'w');
    writeFileSync(fd, data);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    throw writeError(err, path);
  }
  syncDirectorySync(dirname(path));
}

/** Writes `data` to `path` and flushes it, without a rename (for files in a staging folder). */
export async function writeFileDurably(path: string, data: string | Uint8Array): Promise<void> {
  const handle = await open(path, 'w').catch((err: unknown) => {
    throw writeError(err, path);
  });
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (err) {
    throw writeError(err, path);
  } finally {
    await handle.close();
  }
}

/** The asynchronous writeFileAtomicSync. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = temporaryPath(path);
  try {
    await writeFileDurably(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw writeError(err, path);
  }
  await syncDirectory(dirname(path));
}

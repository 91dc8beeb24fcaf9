// The one way to reach a source file: by its validated identity (device and inode), inside its root, never
// following a symlink, never blocking on a FIFO or device, and never opening anything outside the root.
//
// Why a walk: open(path, O_NOFOLLOW) only refuses a symlink as the *last* component; a directory on the way that
// was swapped for a symlink would still be followed out of the root. So each component is looked up relative to
// the descriptor of its parent directory (through /proc/self/fd/<dirfd>/<name>, Node's stand-in for openat), with
// O_NOFOLLOW: the lookup can never leave the directory the previous step opened, and that chain starts at the root.
import { constants, type BigIntStats } from 'node:fs';
import { type FileHandle, lstat, open, readlink, realpath } from 'node:fs/promises';
import path from 'node:path';
import { StorageError } from './errors.ts';

/** What a source file was when it was validated; later opens must find the same file (same device and inode). */
export interface SourceIdentity {
  /** st_dev, decimal (64-bit values do not fit a JSON number). */
  dev: string;
  /** st_ino, decimal. */
  ino: string;
  /** Size in bytes at validation. */
  size: number;
  /** Modification time at validation, in ms; recorded for audit, content changes are judged by size and hash. */
  mtimeMs: number;
}

/** Where a source must be found: its real path and the root it may not leave. */
export interface SourceLocation {
  /** The directory sources must stay inside (symlinks in it are resolved once, it is the operator's). */
  root: string;
  /** Absolute real path of the file, inside `root`. */
  path: string;
  /** Attached to errors. */
  operationId?: string;
}

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK, O_DIRECTORY } = constants;
// O_NONBLOCK: a FIFO opened for reading returns at once instead of waiting for a writer; fstat then refuses it.
const FILE_FLAGS = O_RDONLY | O_NOFOLLOW | O_NONBLOCK;
const DIR_FLAGS = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK;

/** Device, inode, size and mtime of a source, found through the same walk as every later open; the file is not opened. */
export async function identifySource(loc: SourceLocation, signal?: AbortSignal): Promise<SourceIdentity> {
  const { dir, name } = await openParent(loc, signal);
  try {
    const st = await guarded(lstat(`/proc/self/fd/${dir.fd}/${name}`, { bigint: true }), loc, 'cannot stat', signal);
    assertRegular(st, loc);
    return identityOf(st);
  } finally {
    closeQuietly(dir);
  }
}

/**
 * Opens the validated source for reading. Refuses with SOURCE_REPLACED anything that is not the file validated
 * (another inode, a symlink or a non-directory on the way), with NOT_A_REGULAR_FILE a FIFO, device or directory,
 * with FILE_NOT_FOUND a file that is gone or unreadable. Without `expected`, only the path rules apply (callers that
 * never validated an identity). The descriptor's real path is checked to be inside the root.
 */
export async function openValidatedSource(loc: SourceLocation, expected: SourceIdentity | undefined, signal?: AbortSignal): Promise<FileHandle> {
  return (await openValidatedSourceStat(loc, expected, signal)).fh;
}

/** An open source with its size and mtime as of the open. */
export interface OpenedSource {
  fh: FileHandle;
  size: number;
  mtime: Date;
}

/**
 * openValidatedSource, also returning the size and mtime of the fstat the open already does: a caller that needs
 * them spends no second fstat (a trip through libuv's thread pool per open on the hot path).
 */
export async function openValidatedSourceStat(loc: SourceLocation, expected: SourceIdentity | undefined, signal?: AbortSignal): Promise<OpenedSource> {
  const { dir, name, realRoot } = await openParent(loc, signal);
  let fh: FileHandle | undefined;
  try {
    const entry = `/proc/self/fd/${dir.fd}/${name}`;
    // Looked at before opening, so a FIFO, device or foreign inode swapped in is refused without being opened at all.
    assertSame(await guarded(lstat(entry, { bigint: true }), loc, 'cannot stat', signal), expected, loc);
    fh = await guarded(open(entry, FILE_FLAGS), loc, 'cannot open', signal, (late) => void late.close().catch(() => undefined));
    // ...and again on the descriptor: the entry may have been swapped between the look and the open.
    const st = await guarded(fh.stat({ bigint: true }), loc, 'cannot stat', signal);
    assertSame(st, expected, loc);
    if (st.nlink === 0n) throw new StorageError('FILE_NOT_FOUND', `source ${loc.path} was deleted`, details(loc));
    const real = await guarded(readlink(`/proc/self/fd/${fh.fd}`), loc, 'cannot resolve', signal);
    if (!isInside(realRoot, real)) {
      throw new StorageError('SOURCE_REPLACED', `source ${loc.path} resolves to ${real}, outside ${realRoot}`, details(loc));
    }
    return { fh, size: Number(st.size), mtime: st.mtime };
  } catch (err) {
    if (fh) closeQuietly(fh);
    throw err;
  } finally {
    closeQuietly(dir);
  }
}

/** Checks, on the open descriptor, that the source was neither deleted nor resized; cheap enough for every chunk. */
export async function assertSourceIntact(fh: FileHandle, loc: SourceLocation, expectedSize: number, signal?: AbortSignal): Promise<void> {
  const st = await guarded(fh.stat({ bigint: true }), loc, 'cannot stat', signal);
  // An open descriptor keeps reading a deleted file on Linux; its link count tells that the path no longer leads to it.
  if (st.nlink === 0n) throw new StorageError('FILE_NOT_FOUND', `source ${loc.path} was deleted`, details(loc));
  if (Number(st.size) !== expectedSize) {
    throw new StorageError('SIZE_MISMATCH', `source ${loc.path} changed size: ${expectedSize} bytes expected, now ${st.size}`, details(loc));
  }
}

/** Closes a source; after an abort a read may still be pending on it (close would wait for it), so it is not awaited then. */
export async function closeSource(fh: FileHandle, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) closeQuietly(fh);
  else await fh.close();
}

/** Runs a file-system call that may block (a stalled mount); an abort rejects at once with CANCELLED, the call finishes alone. */
export function guarded<T>(op: Promise<T>, loc: Pick<SourceLocation, 'path' | 'operationId'>, what: string, signal?: AbortSignal, onLate?: (value: T) => void): Promise<T> {
  const mapped = op.catch((err: unknown) => {
    throw toSourceError(err, loc, what);
  });
  if (!signal) return mapped;
  if (signal.aborted) {
    mapped.then(onLate, () => undefined);
    return Promise.reject(cancelled(loc, signal));
  }
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const onAbort = () => {
      if (settled) return;
      settled = true;
      reject(cancelled(loc, signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    mapped.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        if (settled) onLate?.(value);
        else {
          settled = true;
          resolve(value);
        }
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        if (!settled) {
          settled = true;
          reject(err);
        }
      },
    );
  });
}

/** Opens, component by component, the directory holding the source; returns it with the file's name. */
async function openParent(loc: SourceLocation, signal?: AbortSignal): Promise<{ dir: FileHandle; name: string; realRoot: string }> {
  const realRoot = await guarded(realpath(loc.root), loc, 'cannot resolve the root of', signal);
  // The path is taken relative to the root as resolved, or as given (a root reached through a symlink of its own).
  const base = [realRoot, path.resolve(loc.root)].find((r) => path.isAbsolute(loc.path) && isInside(r, loc.path));
  if (base === undefined) throw new StorageError('SOURCE_REPLACED', `source ${loc.path} is not inside ${realRoot}`, details(loc));
  const parts = path.relative(base, loc.path).split(path.sep);
  const name = parts.pop()!;
  let dir = await guarded(open(realRoot, DIR_FLAGS), loc, 'cannot open the root of', signal, (late) => void late.close().catch(() => undefined));
  try {
    for (const part of parts) {
      const next = await guarded(open(`/proc/self/fd/${dir.fd}/${part}`, DIR_FLAGS), loc, `cannot open directory "${part}" of`, signal, (late) => void late.close().catch(() => undefined));
      closeQuietly(dir);
      dir = next;
    }
    return { dir, name, realRoot };
  } catch (err) {
    closeQuietly(dir);
    throw err;
  }
}

function assertRegular(st: BigIntStats, loc: SourceLocation): void {
  if (st.isSymbolicLink()) throw new StorageError('SOURCE_REPLACED', `source ${loc.path} is now a symbolic link`, details(loc));
  if (!st.isFile()) throw new StorageError('NOT_A_REGULAR_FILE', `source ${loc.path} is not a regular file (${kindOf(st)})`, details(loc));
}

function assertSame(st: BigIntStats, expected: SourceIdentity | undefined, loc: SourceLocation): void {
  assertRegular(st, loc);
  if (expected && (String(st.dev) !== expected.dev || String(st.ino) !== expected.ino)) {
    throw new StorageError(
      'SOURCE_REPLACED',
      `source ${loc.path} is not the file validated (device ${expected.dev} inode ${expected.ino}, now device ${st.dev} inode ${st.ino})`,
      details(loc),
    );
  }
}

function identityOf(st: BigIntStats): SourceIdentity {
  return { dev: String(st.dev), ino: String(st.ino), size: Number(st.size), mtimeMs: Number(st.mtimeMs) };
}

function kindOf(st: BigIntStats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'not a file';
}

function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

function closeQuietly(fh: FileHandle): void {
  fh.close().catch(() => undefined);
}

function details(loc: Pick<SourceLocation, 'operationId'>): { operationId?: string } {
  return loc.operationId ? { operationId: loc.operationId } : {};
}

function cancelled(loc: Pick<SourceLocation, 'path' | 'operationId'>, signal: AbortSignal): StorageError {
  return new StorageError('CANCELLED', `reading source ${loc.path} stopped: aborted by the caller`, { ...details(loc), cause: signal.reason });
}

/** A file-system error as a StorageError: a symlink or non-directory met on the way means the path was tampered with. */
export function toSourceError(err: unknown, loc: Pick<SourceLocation, 'path' | 'operationId'>, what: string): StorageError {
  if (err instanceof StorageError) return err;
  const code = (err as { code?: unknown }).code;
  const reason = typeof code === 'string' ? code : err instanceof Error ? err.message : String(err);
  const replaced = code === 'ELOOP' || code === 'ENOTDIR';
  return new StorageError(replaced ? 'SOURCE_REPLACED' : 'FILE_NOT_FOUND', `${what} source ${loc.path}: ${replaced ? `${reason} (a symlink or a file where a directory was)` : reason}`, {
    ...details(loc),
    cause: err,
  });
}

/** The root a source must stay inside: the configured one, else (callers that configured none) its own directory. */
export function sourceRootOf(root: string | undefined, sourcePath: string): string {
  return root ?? path.dirname(sourcePath);
}

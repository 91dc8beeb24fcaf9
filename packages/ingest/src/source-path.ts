// Resolves a requested source path inside SOURCE_ROOT and fixes its identity. Only realpath and lstat (through the
// storage package's component-by-component walk) are used: a path that escapes the root (by "..", an absolute path
// or a symlink) is refused before anything could open it, and the file itself is never opened here.
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { type SourceIdentity, identifySource, storageErrorCode } from '@ingest/storage';
import { SourceRejectedError } from './errors.ts';

/** A source file that is a regular file inside SOURCE_ROOT. */
export interface ResolvedSource {
  /** Path relative to SOURCE_ROOT, as requested. */
  relativePath: string;
  /** Absolute path with every symlink resolved: the file's identity (and lock key). */
  realPath: string;
  sizeBytes: number;
  mtimeMs: number;
  /** Device, inode, size and mtime: every later open must find this very file. */
  identity: SourceIdentity;
}

/** Limits on a source. */
export interface SourceLimits {
  maxBytes: number;
}

/** Checks `requested` (relative to `root`) and returns the real file; throws SourceRejectedError (HTTP 422). */
export async function resolveSource(root: string, requested: string, field: string, limits: SourceLimits): Promise<ResolvedSource> {
  if (requested.includes('\0')) throw new SourceRejectedError('PATH_OUTSIDE_ROOT', field, `${field} contains a NUL byte`);
  if (path.isAbsolute(requested)) {
    throw new SourceRejectedError('PATH_OUTSIDE_ROOT', field, `${field} must be relative to SOURCE_ROOT, got an absolute path`);
  }
  let realRoot: string;
  try {
    realRoot = await realpath(root);
  } catch {
    throw new SourceRejectedError('SOURCE_NOT_FOUND', field, `SOURCE_ROOT ${root} does not exist on this host`);
  }
  const joined = path.resolve(realRoot, requested);
  if (!isInside(realRoot, joined)) {
    throw new SourceRejectedError('PATH_OUTSIDE_ROOT', field, `${field} "${requested}" points outside SOURCE_ROOT`);
  }
  let real: string;
  try {
    real = await realpath(joined);
  } catch {
    throw new SourceRejectedError('SOURCE_NOT_FOUND', field, `${field} "${requested}" does not exist under SOURCE_ROOT`);
  }
  if (!isInside(realRoot, real)) {
    throw new SourceRejectedError('PATH_OUTSIDE_ROOT', field, `${field} "${requested}" resolves (through a symlink) outside SOURCE_ROOT`);
  }
  const identity = await identifySource({ root: realRoot, path: real }).catch((err: unknown) => {
    throw rejection(err, field, requested);
  });
  if (identity.size > limits.maxBytes) {
    throw new SourceRejectedError('SOURCE_TOO_LARGE', field, `${field} "${requested}" is ${identity.size} bytes; the limit is ${limits.maxBytes}`);
  }
  return { relativePath: requested, realPath: real, sizeBytes: identity.size, mtimeMs: identity.mtimeMs, identity };
}

/** Whether two identities name the same file (device and inode). */
export function sameFile(a: SourceIdentity, b: SourceIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

function rejection(err: unknown, field: string, requested: string): SourceRejectedError {
  switch (storageErrorCode(err)) {
    case 'NOT_A_REGULAR_FILE':
      return new SourceRejectedError('NOT_A_REGULAR_FILE', field, `${field} "${requested}" is not a regular file`);
    case 'SOURCE_REPLACED':
      return new SourceRejectedError('SOURCE_REPLACED', field, `${field} "${requested}" changed (a symlink swapped in) while it was being validated`);
    default:
      return new SourceRejectedError('SOURCE_NOT_FOUND', field, `${field} "${requested}" does not exist under SOURCE_ROOT`);
  }
}

function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === '' ? false : !rel.startsWith('..') && !path.isAbsolute(rel);
}

// The files of one generation, inline or from a directory under SOURCE_ROOT, yielded one at a time: a directory's
// files are read when their turn comes, so a generation's whole content is never in memory.
import { lstat, opendir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { SagaRollbackRequired } from '@ingest/saga-core';
import { unsafePathReason } from './project-path.ts';
import type { WikiInput } from './wiki-input.ts';

/** One file to save; `read` loads its content (only when called). */
export interface WikiFile {
  path: string;
  read(): Promise<string>;
}

/** Yields the generation's files in a stable order; throws SagaRollbackRequired for an unsafe or oversized file. */
export async function* wikiFiles(input: WikiInput, maxFileBytes: number): AsyncGenerator<WikiFile> {
  if (input.files) {
    for (const f of input.files) yield { path: f.path, read: async () => f.content };
    return;
  }
  if (input.filesDir === undefined) return;
  yield* walk(input.filesDir, '', maxFileBytes);
}

async function* walk(root: string, relative: string, maxFileBytes: number): AsyncGenerator<WikiFile> {
  const names: string[] = [];
  // Names only (not contents) of one directory level are kept, to yield in a stable order across retries.
  for await (const entry of await opendir(path.join(root, relative))) names.push(entry.name);
  names.sort();
  for (const name of names) {
    const rel = relative === '' ? name : `${relative}/${name}`;
    const full = path.join(root, rel);
    const st = await lstat(full);
    if (st.isDirectory()) {
      yield* walk(root, rel, maxFileBytes);
      continue;
    }
    // Symlinks and special files are refused: the directory was validated, what it points at was not.
    if (!st.isFile()) throw new SagaRollbackRequired('UNSAFE_PATH', `${rel} is not a regular file`, { path: rel });
    const reason = unsafePathReason(rel);
    if (reason !== null) throw new SagaRollbackRequired('UNSAFE_PATH', `file path ${reason}: ${JSON.stringify(rel.slice(0, 200))}`, { path: rel });
    if (st.size > maxFileBytes) throw new SagaRollbackRequired('TOO_LARGE', `${rel} is ${st.size} bytes, more than ${maxFileBytes}`, { path: rel });
    yield { path: rel, read: () => readFile(full, 'utf8') };
  }
}

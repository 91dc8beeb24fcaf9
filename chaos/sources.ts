// Source files for the soak: written as a stream of random blocks (never a whole file in memory), and modified in
// place the way a user would (appending a page, or rewriting bytes without changing the size).
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { appendFile, open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const BLOCK = 1024 * 1024;

/** Writes `bytes` random bytes to `file`, a megabyte at a time. */
export async function writeRandomFile(file: string, bytes: number): Promise<void> {
  let left = bytes;
  await pipeline(
    Readable.from(
      (function* () {
        while (left > 0) {
          const n = Math.min(BLOCK, left);
          left -= n;
          yield randomBytes(n);
        }
      })(),
    ),
    createWriteStream(file),
  );
}

/** How a source is modified under a running saga. */
export type Mutation = 'append' | 'overwrite';

/** Appends a few bytes, or rewrites a few bytes at `offset` keeping the size. */
export async function mutateSource(file: string, how: Mutation, offset: number): Promise<void> {
  if (how === 'append') {
    await appendFile(file, Buffer.from('\na page added by the user while the saga ran\n'));
    return;
  }
  const fh = await open(file, 'r+');
  try {
    await fh.write(Buffer.from('rewritten by the user'), 0, 21, offset);
  } finally {
    await fh.close();
  }
}

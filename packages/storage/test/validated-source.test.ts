// The source-identity rule on a real file system: every swap an attacker with write access to SOURCE_ROOT can make
// after validation is refused, and nothing outside the root is opened (a FIFO trap's writer would leave its wait)
// or read (atime would move).
import { execFileSync } from 'node:child_process';
import { constants } from 'node:fs';
import { link, mkdir, mkdtemp, open, readFile, rename, rm, stat, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FifoTrap, createFifoTrap } from '@ingest/testkit';
import { type SourceIdentity, StorageError, assertSourceIntact, closeSource, identifySource, openValidatedSource } from '../src/index.ts';
import { readExactly } from '../src/source-file.ts';
import { guarded } from '../src/validated-source.ts';

let base: string;
let root: string;
let outside: string;
const traps: FifoTrap[] = [];

beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'validated-'));
  root = path.join(base, 'root');
  outside = path.join(base, 'outside');
  await mkdir(path.join(root, 'dir'), { recursive: true });
  await mkdir(outside);
});
afterEach(async () => {
  for (const t of traps.splice(0)) await t.close();
});
afterAll(async () => rm(base, { recursive: true, force: true }));

async function source(rel: string, content = 'validated bytes'): Promise<{ file: string; identity: SourceIdentity }> {
  const file = path.join(root, rel);
  await writeFile(file, content);
  return { file, identity: await identifySource({ root, path: file }) };
}

async function refusal(file: string, identity: SourceIdentity | undefined): Promise<StorageError> {
  const err = await openValidatedSource({ root, path: file }, identity).then(
    async (fh) => {
      await fh.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StorageError);
  return err as StorageError;
}

/** An outside secret whose atime is older than its mtime: any read moves it (relatime). */
async function secret(name: string, content: string): Promise<{ file: string; atimeMs: () => Promise<number> }> {
  const file = path.join(outside, name);
  await writeFile(file, content);
  await utimes(file, new Date('2020-01-01'), new Date());
  return { file, atimeMs: async () => (await stat(file)).atimeMs };
}

async function trap(name: string): Promise<FifoTrap> {
  const t = await createFifoTrap(path.join(outside, name));
  traps.push(t);
  return t;
}

describe('openValidatedSource', () => {
  it('opens the file validated and reads it; its identity is device, inode, size and mtime', async () => {
    const { file, identity } = await source('a.bin');
    expect(identity).toMatchObject({ dev: expect.stringMatching(/^\d+$/), ino: expect.stringMatching(/^\d+$/), size: 15 });
    const fh = await openValidatedSource({ root, path: file }, identity);
    const bytes = Buffer.alloc(identity.size);
    await readExactly(fh, bytes, 0, { operationId: 'op', path: file });
    expect(bytes.toString()).toBe('validated bytes');
    await assertSourceIntact(fh, { root, path: file }, identity.size);
    await closeSource(fh);
  });

  it('a root reached through a symlink of its own (the operator\'s) works with paths under either spelling', async () => {
    const { file, identity } = await source('via-link.bin');
    const linkRoot = path.join(base, 'root-link');
    await symlink(root, linkRoot);
    for (const loc of [{ root: linkRoot, path: path.join(linkRoot, 'via-link.bin') }, { root: linkRoot, path: file }]) {
      await closeSource(await openValidatedSource(loc, identity));
    }
  });

  it('a symlink swapped in (to an outside FIFO) is SOURCE_REPLACED, and the FIFO is never opened', async () => {
    const { file, identity } = await source('swap.bin');
    const t = await trap('token.fifo');
    await unlink(file);
    await symlink(t.path, file);
    const err = await refusal(file, identity);
    expect(err.code).toBe('SOURCE_REPLACED');
    expect(err.message).toMatch(/symbolic link/);
    expect(await t.opened()).toBe(false);
    // Even without a recorded identity, the path rules alone refuse it.
    expect((await refusal(file, undefined)).code).toBe('SOURCE_REPLACED');
    expect(await t.opened()).toBe(false);
  });

  it('a FIFO swapped in is NOT_A_REGULAR_FILE at once (no hang)', async () => {
    const { file, identity } = await source('fifo.bin');
    await unlink(file);
    execFileSync('mkfifo', [file]);
    const started = Date.now();
    const err = await refusal(file, identity);
    expect(err.code).toBe('NOT_A_REGULAR_FILE');
    expect(err.message).toMatch(/a FIFO/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('a hard link to an outside file is SOURCE_REPLACED by its inode, and the outside file is not read', async () => {
    const { file, identity } = await source('hard.bin', 'x'.repeat(20));
    const s = await secret('hard-secret', 's'.repeat(20));
    const atime = await s.atimeMs();
    await unlink(file);
    await link(s.file, file);
    const err = await refusal(file, identity);
    expect(err.code).toBe('SOURCE_REPLACED');
    expect(err.message).toMatch(/not the file validated/);
    expect(await s.atimeMs()).toBe(atime);
  });

  it('a directory on the path swapped for a symlink to an outside directory is SOURCE_REPLACED; nothing in it is opened', async () => {
    await mkdir(path.join(root, 'swapdir'));
    const { file, identity } = await source('swapdir/doc.bin');
    const evil = path.join(outside, 'evil');
    await mkdir(evil);
    const t = await createFifoTrap(path.join(evil, 'doc.bin'));
    traps.push(t);
    await rename(path.join(root, 'swapdir'), path.join(base, 'moved-away'));
    await symlink(evil, path.join(root, 'swapdir'));
    const err = await refusal(file, identity);
    expect(err.code).toBe('SOURCE_REPLACED');
    expect(await t.opened()).toBe(false);
    expect((await refusal(file, undefined)).code).toBe('SOURCE_REPLACED');
    expect(await t.opened()).toBe(false);
  });

  it('a directory swapped for another real directory holding a same-named file is SOURCE_REPLACED by inode', async () => {
    await mkdir(path.join(root, 'realdir'));
    const { file, identity } = await source('realdir/doc.bin');
    await rename(path.join(root, 'realdir'), path.join(base, 'realdir-old'));
    await mkdir(path.join(root, 'realdir'));
    await writeFile(file, 'validated bytes');
    expect((await refusal(file, identity)).code).toBe('SOURCE_REPLACED');
  });

  it('a path outside the root is refused before anything is opened', async () => {
    const s = await secret('direct', 'top secret');
    const id = await identifySource({ root: outside, path: s.file });
    expect((await refusal(s.file, id)).code).toBe('SOURCE_REPLACED');
  });

  it('a deleted source is FILE_NOT_FOUND, by path and on an open descriptor (link count 0)', async () => {
    const { file, identity } = await source('gone.bin');
    const fh = await openValidatedSource({ root, path: file }, identity);
    await unlink(file);
    await expect(assertSourceIntact(fh, { root, path: file }, identity.size)).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
    await closeSource(fh);
    expect((await refusal(file, identity)).code).toBe('FILE_NOT_FOUND');
  });

  it('a read stuck on a stalled peer is abandoned at once when the signal aborts; four more reads then complete', async () => {
    // What a hung network file system does to read(): here a FIFO opened read-write, so the read waits for data.
    const t = await trap('stalled.fifo');
    const fh = await open(t.path, constants.O_RDWR);
    const controller = new AbortController();
    const ctx = { operationId: 'op', path: t.path };
    // Position null: a FIFO cannot be read at an offset; the wait is the same.
    const stuck = guarded(fh.read(Buffer.alloc(8), 0, 8, null), ctx, 'cannot read', controller.signal);
    setTimeout(() => controller.abort(new Error('saga cancelled')), 100);
    await expect(stuck).rejects.toMatchObject({ code: 'CANCELLED' });
    await closeSource(fh, controller.signal);
    // The thread stays in read() until the peer answers: answer, so the libuv pool is whole again.
    const peer = await open(t.path, constants.O_WRONLY | constants.O_NONBLOCK);
    await peer.write(Buffer.from('unblock!'));
    await peer.close();
    const { file } = await source('after.bin');
    const reads = await Promise.all([1, 2, 3, 4].map(() => readFile(file, 'utf8')));
    expect(reads).toEqual(Array(4).fill('validated bytes'));
  });
});

import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SourceRejectedError, resolveSource } from '../src/index.ts';

let base: string;
let root: string;
const limits = { maxBytes: 1024 };

beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'srcroot-'));
  root = path.join(base, 'root');
  await mkdir(path.join(root, 'docs'), { recursive: true });
  await writeFile(path.join(root, 'docs', 'a.bin'), 'hello');
  await writeFile(path.join(root, 'big.bin'), Buffer.alloc(2048));
  await writeFile(path.join(base, 'secret.txt'), 'outside');
  await symlink(path.join(base, 'secret.txt'), path.join(root, 'escape-link'));
  await symlink(path.join(root, 'docs', 'a.bin'), path.join(root, 'inside-link'));
  await symlink(base, path.join(root, 'dir-escape'));
  execFileSync('mkfifo', [path.join(root, 'pipe')]);
});
afterAll(async () => rm(base, { recursive: true, force: true }));

async function rejection(p: string): Promise<SourceRejectedError> {
  const err = await resolveSource(root, p, 'filePath', limits).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(SourceRejectedError);
  return err as SourceRejectedError;
}

describe('resolveSource', () => {
  it('accepts a regular file inside the root and reports its real path, size and mtime', async () => {
    const r = await resolveSource(root, 'docs/a.bin', 'filePath', limits);
    expect(r.realPath).toBe(path.join(root, 'docs', 'a.bin'));
    expect(r.sizeBytes).toBe(5);
    expect(r.mtimeMs).toBeGreaterThan(0);
  });

  it('fixes the identity of the file: device and inode as stat reports them, size and mtime', async () => {
    const r = await resolveSource(root, 'docs/a.bin', 'filePath', limits);
    const st = await stat(path.join(root, 'docs', 'a.bin'), { bigint: true });
    expect(r.identity).toEqual({ dev: String(st.dev), ino: String(st.ino), size: 5, mtimeMs: Number(st.mtimeMs) });
  });

  it('follows a symlink that stays inside the root', async () => {
    expect((await resolveSource(root, 'inside-link', 'filePath', limits)).realPath).toBe(path.join(root, 'docs', 'a.bin'));
  });

  it.each([
    ['../secret.txt', 'PATH_OUTSIDE_ROOT', /outside SOURCE_ROOT/],
    ['docs/../../secret.txt', 'PATH_OUTSIDE_ROOT', /outside SOURCE_ROOT/],
    ['/etc/passwd', 'PATH_OUTSIDE_ROOT', /absolute path/],
    ['escape-link', 'PATH_OUTSIDE_ROOT', /through a symlink/],
    ['dir-escape/secret.txt', 'PATH_OUTSIDE_ROOT', /through a symlink/],
    ['docs/missing.bin', 'SOURCE_NOT_FOUND', /does not exist/],
    ['docs', 'NOT_A_REGULAR_FILE', /not a regular file/],
    ['pipe', 'NOT_A_REGULAR_FILE', /not a regular file/],
    ['big.bin', 'SOURCE_TOO_LARGE', /2048 bytes; the limit is 1024/],
    ['', 'PATH_OUTSIDE_ROOT', /outside SOURCE_ROOT/],
  ])('refuses %s with %s', async (p, code, message) => {
    const err = await rejection(p);
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
    expect(err.field).toBe('filePath');
  });
});

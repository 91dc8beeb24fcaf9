// Whether SOURCE_ROOT can be read: the readiness check that keeps a worker whose volume did not mount (or went stale)
// from taking jobs it could only roll back as FILE_NOT_FOUND.
import { constants } from 'node:fs';
import { access, opendir, stat } from 'node:fs/promises';

/** Resolves when `root` is a directory this process can list; rejects with a short reason otherwise. */
export async function checkSourceRoot(root: string): Promise<void> {
  const s = await stat(root).catch((err: NodeJS.ErrnoException) => {
    throw new Error(err.code === 'ENOENT' ? `SOURCE_ROOT ${root} does not exist` : `SOURCE_ROOT ${root}: ${err.code ?? err.message}`);
  });
  if (!s.isDirectory()) throw new Error(`SOURCE_ROOT ${root} is not a directory`);
  await access(root, constants.R_OK | constants.X_OK).catch(() => {
    throw new Error(`SOURCE_ROOT ${root} is not readable by this process`);
  });
  // Listing one entry reaches the file system behind a mount point (a stale NFS handle fails here, not in stat).
  const dir = await opendir(root);
  try {
    await dir.read();
  } finally {
    await dir.close();
  }
}

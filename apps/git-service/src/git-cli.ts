// Runs Debian's git on one project's bare repository with the project's directory as its work tree.
import { execFile } from 'node:child_process';

/** Output of one git command. */
export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `git args` for a repository and work tree; never throws on a non-zero exit (the caller decides). */
export function runGit(gitDir: string, workTree: string, args: readonly string[]): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      ['-c', 'user.name=git-service', '-c', 'user.email=git-service@localhost', '-c', 'commit.gpgsign=false', `--git-dir=${gitDir}`, `--work-tree=${workTree}`, ...args],
      { cwd: workTree, maxBuffer: 16 * 1024 * 1024, timeout: 120_000, env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } },
      (err, stdout, stderr) => {
        if (err && typeof (err as { code?: unknown }).code !== 'number') return reject(err);
        resolve({ code: err ? Number((err as { code?: unknown }).code) : 0, stdout, stderr });
      },
    );
  });
}

// Runs the janitor app as operators do (one pass per process), until no leftover is pending or the passes run out.
import path from 'node:path';
import { spawnProcess } from '@ingest/testkit';
import type { JanitorSummary } from '@ingest/ingest';
import { log } from './log.ts';

/** One pass of `apps/janitor`; returns its JSON summary. */
export async function runJanitorPass(root: string, env: Record<string, string>): Promise<JanitorSummary> {
  const main = path.join(root, 'apps/janitor/src/main.ts');
  const proc = await spawnProcess(process.execPath, ['--import', 'tsx', main], { cwd: root, env, name: 'janitor', maxLines: 500 });
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([
    proc.exited,
    new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), 180_000);
    }),
  ]);
  clearTimeout(timer);
  if (exit === null) {
    proc.kill('SIGKILL');
    throw new Error('janitor pass did not finish within 180 s');
  }
  const json = proc.output().find((line) => line.startsWith('{"cleanups"'));
  if (exit.code !== 0 || !json) throw new Error(`janitor pass failed (${JSON.stringify(exit)}): ${proc.output().slice(-5).join(' | ')}`);
  const summary = JSON.parse(json) as JanitorSummary;
  log(`janitor pass: ${proc.output().find((l) => l.startsWith('janitor pass:')) ?? json}`);
  return summary;
}

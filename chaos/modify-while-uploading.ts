// A user editing a file while it is being ingested: the edit is timed to the saga's upload, not to a clock.
import path from 'node:path';
import type { IngestRuntime } from '@ingest/ingest';
import { log } from './log.ts';
import { mutateSource } from './sources.ts';

/** Waits (bounded) until the saga is uploading, then modifies its source; false if the saga was already past it. */
export async function modifyWhileUploading(rt: IngestRuntime, sagaId: string, file: string, how: 'append' | 'overwrite', bytes: number): Promise<boolean> {
  const deadline = Date.now() + 30_000;
  // Bounded by the deadline; a status call that hangs (PostgreSQL paused) only costs this saga its modification.
  while (Date.now() < deadline) {
    const s = await Promise.race([rt.status(sagaId), new Promise<null>((r) => setTimeout(() => r(null), 2000))]).catch(() => null);
    if (s && s.status !== 'running') return false;
    if (s && ['uploading', 'upload_failed', 'upload_paused', 'resuming'].includes(s.state) && s.progress.bytesDone > 0) {
      await mutateSource(file, how, Math.min(100, bytes - 32));
      log(`modified ${path.basename(file)} (${how}) under saga ${sagaId} at ${s.progress.percent}% uploaded`);
      return true;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}


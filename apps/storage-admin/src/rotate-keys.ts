// `npm run rotate-keys`: re-wraps every data key not under ENCRYPTION_ACTIVE_KEY_ID with it (rows and the bucket's
// manifest objects); chunks are not touched. Run it with the old and the new key configured, then retire the old one.
import postgres from 'postgres';
import type { Logger } from 'pino';
import { type IngestConfig, encodingFromConfig } from '@ingest/ingest';
import { checkStorageSchema, createUploader, storageErrorCode } from '@ingest/storage';
import { chunkStoreFromConfig } from './s3-from-config.ts';

/** Exit codes: every data key is under the active key; some could not be re-wrapped (listed); could not run. */
export const ROTATE_EXIT = { OK: 0, INCOMPLETE: 1, FAILED: 2 } as const;

/** Runs one rotation; `out` receives the report (JSON); returns the exit code. */
export async function runRotateKeys(config: IngestConfig, logger: Logger, out: (line: string) => void): Promise<number> {
  const sql = postgres(config.DATABASE_URL, { max: 2, prepare: config.DATABASE_PREPARE, onnotice: () => undefined });
  const { chunkStore, close } = chunkStoreFromConfig(config);
  try {
    await checkStorageSchema(sql, 'DATABASE_URL');
    const uploader = createUploader({ sql, chunkStore, encoding: encodingFromConfig(config), logger });
    const report = await uploader.rotateDataKeys();
    out(JSON.stringify(report));
    return report.failed.length === 0 ? ROTATE_EXIT.OK : ROTATE_EXIT.INCOMPLETE;
  } catch (err) {
    if (!storageErrorCode(err)) throw err;
    out(JSON.stringify({ rotated: false, code: storageErrorCode(err), message: err instanceof Error ? err.message : String(err) }));
    return ROTATE_EXIT.FAILED;
  } finally {
    close();
    await sql.end({ timeout: 5 });
  }
}

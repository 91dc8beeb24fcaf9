// `npm run recover -- <documentId|operationId|prefix> <out-file>`: rebuilds a committed document from the bucket
// alone (its manifest object and chunks) with the configured key-encryption keys; never touches PostgreSQL or Redis.
import path from 'node:path';
import { type IngestConfig, keyProviderFromConfig } from '@ingest/ingest';
import { recoverDocument, storageErrorCode } from '@ingest/storage';
import { chunkStoreFromConfig } from './s3-from-config.ts';

/** Exit codes: recovered and verified; the bucket does not hold a verifiable document; usage or configuration. */
export const RECOVER_EXIT = { OK: 0, FAILED: 1, USAGE: 2 } as const;

/** Runs the command; `out` receives the result (JSON) or the failure; returns the exit code. */
export async function runRecover(config: IngestConfig, args: readonly string[], out: (line: string) => void): Promise<number> {
  const [target, outFile, ...rest] = args;
  if (!target || !outFile || rest.length > 0) {
    out('usage: npm run recover -- <documentId|operationId|prefix> <out-file>');
    return RECOVER_EXIT.USAGE;
  }
  const { chunkStore, close } = chunkStoreFromConfig(config);
  try {
    const keyProvider = keyProviderFromConfig(config);
    const result = await recoverDocument({ chunkStore, target, outFile: path.resolve(outFile), ...(keyProvider ? { keyProvider } : {}) });
    out(JSON.stringify({ recovered: true, outFile: path.resolve(outFile), ...result }));
    return RECOVER_EXIT.OK;
  } catch (err) {
    const code = storageErrorCode(err);
    if (!code) throw err;
    out(JSON.stringify({ recovered: false, code, message: err instanceof Error ? err.message : String(err) }));
    return RECOVER_EXIT.FAILED;
  } finally {
    close();
  }
}

// The chunk store over the bucket the configuration names (the commands' only S3 set-up).
import { type ChunkStore, createChunkStore, createS3Client } from '@ingest/storage';
import type { IngestConfig } from '@ingest/ingest';

/** A chunk store and its closer. */
export function chunkStoreFromConfig(config: IngestConfig): { chunkStore: ChunkStore; close(): void } {
  const client = createS3Client({
    ...(config.S3_ENDPOINT ? { endpoint: config.S3_ENDPOINT } : {}),
    region: config.S3_REGION,
    accessKeyId: config.S3_ACCESS_KEY_ID,
    secretAccessKey: config.S3_SECRET_ACCESS_KEY,
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
  });
  const chunkStore = createChunkStore({ client, bucket: config.S3_BUCKET, callTimeoutMs: config.S3_CALL_TIMEOUT_MS });
  return {
    chunkStore,
    close() {
      chunkStore.close();
      client.destroy();
    },
  };
}

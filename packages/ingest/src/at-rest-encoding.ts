// The uploader's encoding at rest from configuration: adaptive zstd, the encryption policy, and the local key provider.
import { type EncodingOptions, type KeyProvider, createLocalKeyProvider, parseKeyList } from '@ingest/storage';
import type { IngestConfig } from './config.ts';

/** The key provider of ENCRYPTION_KEYS / ENCRYPTION_ACTIVE_KEY_ID, or undefined when no key is configured. */
export function keyProviderFromConfig(config: IngestConfig): KeyProvider | undefined {
  if (!config.ENCRYPTION_KEYS) return undefined;
  return createLocalKeyProvider({
    keys: parseKeyList(config.ENCRYPTION_KEYS),
    ...(config.ENCRYPTION_ACTIVE_KEY_ID ? { activeKeyId: config.ENCRYPTION_ACTIVE_KEY_ID } : {}),
  });
}

/** EncodingOptions of createUploader as configured. */
export function encodingFromConfig(config: IngestConfig): EncodingOptions {
  const keyProvider = keyProviderFromConfig(config);
  return {
    compressionLevel: config.COMPRESSION_LEVEL,
    compressionMinSavingsPercent: config.COMPRESSION_MIN_SAVINGS_PERCENT,
    encryptAtRest: config.ENCRYPT_AT_REST,
    ...(keyProvider ? { keyProvider } : {}),
  };
}

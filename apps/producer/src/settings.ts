// The producer server's configuration: the shared ingestion settings plus the token it refuses to start without.
import { ConfigError, loadConfig, type IngestConfig } from '@ingest/ingest';

/** The ingestion configuration with INTERNAL_TOKEN guaranteed present. */
export type ProducerConfig = IngestConfig & { INTERNAL_TOKEN: string };

/** Parses the environment for the producer; throws ConfigError naming every bad variable, INTERNAL_TOKEN included. */
export function loadProducerConfig(env: NodeJS.ProcessEnv = process.env): ProducerConfig {
  const config = loadConfig(env);
  const token = config.INTERNAL_TOKEN;
  if (token === undefined) throw new ConfigError(['INTERNAL_TOKEN: required by the producer (at least 16 characters)']);
  return { ...config, INTERNAL_TOKEN: token };
}

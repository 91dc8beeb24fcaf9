// The producer server's configuration: the shared ingestion settings plus the tokens it refuses to start without.
import { ConfigError, loadConfig, type IngestConfig } from '@ingest/ingest';
import { type ApiToken, parseApiTokens } from './api-tokens.ts';

/** The ingestion configuration with the producer's callers parsed from INTERNAL_TOKEN and INTERNAL_TOKENS. */
export type ProducerConfig = IngestConfig & { tokens: ApiToken[] };

/** Parses the environment for the producer; throws ConfigError naming every bad variable (never a secret). */
export function loadProducerConfig(env: NodeJS.ProcessEnv = process.env): ProducerConfig {
  const config = loadConfig(env);
  const { tokens, problems } = parseApiTokens(config.INTERNAL_TOKEN, config.INTERNAL_TOKENS);
  if (problems.length > 0) throw new ConfigError(problems);
  if (tokens.length === 0) {
    throw new ConfigError(['INTERNAL_TOKEN: required by the producer (at least 16 characters), unless INTERNAL_TOKENS names at least one token']);
  }
  return { ...config, tokens };
}

// The CLI's configuration, parsed in one place: where the producer is, the token, and SOURCE_ROOT.
import { loadConfig } from '@ingest/ingest';
import { z } from 'zod';
import { CliUsageError } from './cli-errors.ts';

/** What the CLI needs to talk to a producer. */
export interface CliSettings {
  /** Base URL of the producer. Default http://127.0.0.1:$PORT. */
  producerUrl: string;
  internalToken: string;
  /** Absolute paths inside it are sent relative to it. */
  sourceRoot: string;
}

const producerUrl = z.url({ protocol: /^https?$/ });

/** Reads PRODUCER_URL, INTERNAL_TOKEN, SOURCE_ROOT and PORT; throws CliUsageError naming what is wrong. */
export function loadCliSettings(env: NodeJS.ProcessEnv = process.env): CliSettings {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(env);
  } catch (err) {
    throw new CliUsageError(err instanceof Error ? err.message : String(err));
  }
  const rawUrl = env.PRODUCER_URL === undefined || env.PRODUCER_URL === '' ? `http://127.0.0.1:${config.PORT}` : env.PRODUCER_URL;
  const url = producerUrl.safeParse(rawUrl);
  if (!url.success) throw new CliUsageError(`PRODUCER_URL: must be an http(s) URL, got "${rawUrl}"`);
  if (config.INTERNAL_TOKEN === undefined) throw new CliUsageError('INTERNAL_TOKEN is not set: the CLI authenticates to the producer with it');
  return { producerUrl: url.data.replace(/\/+$/, ''), internalToken: config.INTERNAL_TOKEN, sourceRoot: config.SOURCE_ROOT };
}

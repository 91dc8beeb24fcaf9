// The CLI's configuration, parsed in one place: where the producer is, the token, and SOURCE_ROOT.
// Parsed here rather than with @ingest/ingest's loadConfig: importing the runtime package (storage, queues, the S3
// SDK) costs seconds per command, and the CLI needs four variables. Defaults and limits match loadConfig's.
import { z } from 'zod';
import { CliUsageError } from './cli-errors.ts';

/** What the CLI needs to talk to a producer. */
export interface CliSettings {
  /** Base URL of the producer. Default http://127.0.0.1:$PORT. */
  producerUrl: string;
  internalToken: string;
  /** Absolute paths inside it are sent relative to it. Default /data/sources. */
  sourceRoot: string;
}

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  SOURCE_ROOT: z.string().min(1).default('/data/sources'),
  INTERNAL_TOKEN: z.string({ error: 'is not set: the CLI authenticates to the producer with it' }).min(16, 'must be at least 16 characters'),
  PRODUCER_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
});

/** Reads PRODUCER_URL, INTERNAL_TOKEN, SOURCE_ROOT and PORT; throws CliUsageError naming every bad variable. */
export function loadCliSettings(env: NodeJS.ProcessEnv = process.env): CliSettings {
  const source: Record<string, string | undefined> = {};
  for (const key of Object.keys(schema.shape)) source[key] = env[key] === '' ? undefined : env[key];
  const parsed = schema.safeParse(source);
  if (!parsed.success) throw new CliUsageError(parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; '));
  const s = parsed.data;
  return {
    producerUrl: (s.PRODUCER_URL ?? `http://127.0.0.1:${s.PORT}`).replace(/\/+$/, ''),
    internalToken: s.INTERNAL_TOKEN,
    sourceRoot: s.SOURCE_ROOT,
  };
}

// The environment of DESIGN.md §5, parsed and validated in one place for every app.
import { z } from 'zod';
import { ENCRYPTION_POLICIES, parseKeyList } from '@ingest/storage';
import { ConfigError } from './errors.ts';

const bool = z
  .string()
  .transform((v) => v.trim().toLowerCase())
  .refine((v) => ['true', 'false', '1', '0', 'yes', 'no'].includes(v), 'must be true or false')
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number) => z.coerce.number().int().min(min);
const url = z.string().url();

// Defaults are production's (AWS S3 and its credential chain); nothing points at a local service by default: local
// development gets REDIS_URL, DATABASE_URL and the S3 settings of its services from scripts/setup.sh.
const schema = z.object({
  REDIS_URL: url,
  /** REDIS_URL names one node of a Redis Cluster; QUEUE_PREFIX must then be hash-tagged (`{ingest}`). */
  REDIS_CLUSTER: bool.default(false),
  /** More cluster nodes to start from, `host:port,host:port`: a process starting while REDIS_URL's node is down still connects. */
  REDIS_CLUSTER_NODES: z
    .string()
    .regex(/^\s*[^\s:,]+:\d{1,5}\s*(,\s*[^\s:,]+:\d{1,5}\s*)*$/, 'host:port, comma-separated')
    .transform((v) => v.split(',').map((n) => n.trim()))
    .optional(),
  DATABASE_URL: url,
  RELATIONAL_DATABASE_URL: url.optional(),
  VECTOR_DATABASE_URL: url.optional(),
  GRAPH_DATABASE_URL: url.optional(),
  SECURITY_DATABASE_URL: url.optional(),
  /** false behind PgBouncer < 1.21 in transaction pooling (no max_prepared_statements): unnamed statements only. */
  DATABASE_PREPARE: bool.default(true),
  S3_ENDPOINT: url.optional(),
  /** Default: AWS_REGION, then AWS_DEFAULT_REGION (set by the AWS tooling and by EKS), then us-east-1. */
  S3_REGION: z.string().min(1),
  S3_BUCKET: z.string().min(3).default('ingest'),
  /** Both or neither: without them the AWS SDK's default chain applies (environment, web identity, instance profile). */
  S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  S3_FORCE_PATH_STYLE: bool.default(false),
  S3_CALL_TIMEOUT_MS: int(1000).default(60_000),
  SOURCE_ROOT: z.string().min(1).default('/data/sources'),
  INTERNAL_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  // name:secret[:scope+scope], comma-separated; parsed by the producer (apps/producer/src/api-tokens.ts).
  INTERNAL_TOKENS: z.string().optional(),
  AUTH_FAILURES_PER_MINUTE: int(1).default(30),
  PORT: int(0).max(65535).default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // `{name}` (a hash tag) keeps every queue and lock key in one Redis Cluster slot.
  QUEUE_PREFIX: z
    .string()
    .regex(/^([A-Za-z0-9_-]+|\{[A-Za-z0-9_-]+\})$/, 'letters, digits, _ and - only, optionally in braces ({ingest})')
    .default('ingest'),
  CHUNK_SIZE_BYTES: int(5 * 1024 * 1024).default(8 * 1024 * 1024),
  UPLOAD_CONCURRENCY: int(1).max(64).default(4),
  MAX_RESUME_ATTEMPTS: int(1).default(3),
  RESUME_RETRY_DELAY_MS: int(0).default(5000),
  SAGA_TIMEOUT_SECONDS: int(1).default(3600),
  MAX_FILE_BYTES: int(0).default(100 * 1024 ** 3),
  STEP_LEASE_MS: int(1000).default(30_000),
  STORE_RETRY_ATTEMPTS: int(1).default(5),
  STORE_RETRY_BACKOFF_MS: int(0).default(1000),
  COMPENSATION_RETRY_ATTEMPTS: int(1).default(5),
  // Jobs per queue: a small document's whole saga is one job that mostly waits on round trips, hence many at once.
  WORKER_CONCURRENCY: int(1).default(16),
  // Multi-chunk uploads one worker runs at once: each holds UPLOAD_CONCURRENCY chunk buffers, so this bounds memory.
  WORKER_UPLOADS: int(1).max(64).default(4),
  WORKER_QUEUES: z.string().optional(),
  METRICS_PORT: int(0).max(65535).default(9464),
  // Readiness (README "Readiness"): probe cadence, and how many probes in a row must agree to change state.
  READINESS_INTERVAL_MS: int(100).default(2000),
  READINESS_THRESHOLD: int(1).default(2),
  EMBEDDINGS_URL: url.optional(),
  EMBEDDINGS_API_KEY: z.string().optional(),
  EMBEDDINGS_MODEL: z.string().default('text-embedding-3-small'),
  EMBEDDING_DIMENSIONS: int(8).max(4096).default(256),
  ORPHAN_GRACE_SECONDS: int(0).default(3600),
  STUCK_AFTER_SECONDS: int(1).default(120),
  // Retention (janitor): how long ended sagas keep their history; fractions allowed (0.5 = 12 hours).
  SAGA_HISTORY_DAYS: z.coerce.number().min(0).max(36_500).default(30),
  RETENTION_BATCH_SIZE: int(1).max(10_000).default(500),
  RETENTION_MAX_BATCHES: int(1).max(10_000).default(20),
  ALERT_WEBHOOK_URL: url.optional(),
  ALERT_WEBHOOK_FORMAT: z.enum(['json', 'slack']).default('json'),
  ALERT_RETRY_BACKOFF_MS: int(1).default(5000),
  ALERT_DELIVERY_INTERVAL_MS: int(0).default(5000),
  // Encoding at rest (packages/storage: chunk-codec.ts, README "Encoding at rest").
  COMPRESSION_LEVEL: int(0).max(19).default(3),
  COMPRESSION_MIN_SAVINGS_PERCENT: int(0).max(99).default(10),
  ENCRYPT_AT_REST: z.enum(ENCRYPTION_POLICIES).default('confidential'),
  ENCRYPTION_KEYS: z.string().optional(),
  ENCRYPTION_ACTIVE_KEY_ID: z.string().optional(),
  // The wiki-generation saga (packages/wiki, README "Wiki generation"): registered when all three are set.
  FILESYSTEM_SERVICE_URL: url.optional(),
  GIT_SERVICE_URL: url.optional(),
  WIKI_SERVICE_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  WIKI_CALL_TIMEOUT_MS: int(100).default(10_000),
  WIKI_MAX_FILE_BYTES: int(1).default(8 * 1024 * 1024),
  WIKI_MAX_FILES: int(1).default(5000),
});

/** Every setting, typed. Secrets are kept out of logs by `redactedConfig`. */
export type IngestConfig = z.infer<typeof schema>;

/** Parses the environment; throws ConfigError naming every invalid variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Record<keyof IngestConfig, string>> = {}): IngestConfig {
  const source: Record<string, string | undefined> = {};
  for (const key of Object.keys(schema.shape)) {
    const v = overrides[key as keyof IngestConfig] ?? env[key];
    source[key] = v === '' ? undefined : v;
  }
  source.S3_REGION ??= env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1';
  const parsed = schema.safeParse(source);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  if (parsed.data.CHUNK_SIZE_BYTES > 5 * 1024 ** 3) throw new ConfigError(['CHUNK_SIZE_BYTES: must be at most 5 GiB']);
  if ((parsed.data.S3_ACCESS_KEY_ID === undefined) !== (parsed.data.S3_SECRET_ACCESS_KEY === undefined)) {
    throw new ConfigError(['S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY: set both, or neither to use the AWS credential chain']);
  }
  if (parsed.data.REDIS_CLUSTER_NODES && !parsed.data.REDIS_CLUSTER) throw new ConfigError(['REDIS_CLUSTER_NODES: only with REDIS_CLUSTER=true']);
  if (parsed.data.REDIS_CLUSTER && !/^\{.+\}$/.test(parsed.data.QUEUE_PREFIX)) {
    throw new ConfigError(['QUEUE_PREFIX: with REDIS_CLUSTER=true it must be hash-tagged, e.g. {ingest}, so each queue and lock key shares one slot']);
  }
  const wiki = [parsed.data.FILESYSTEM_SERVICE_URL, parsed.data.GIT_SERVICE_URL, parsed.data.WIKI_SERVICE_TOKEN].filter((v) => v !== undefined).length;
  if (wiki !== 0 && wiki !== 3) throw new ConfigError(['FILESYSTEM_SERVICE_URL, GIT_SERVICE_URL, WIKI_SERVICE_TOKEN: set all three to run the wiki saga, or none']);
  const keyProblem = checkKeyConfig(parsed.data);
  if (keyProblem) throw new ConfigError([keyProblem]);
  return parsed.data;
}

/** The key-encryption keys parse, and the active one is among them; the problem names ids only, never key material. */
function checkKeyConfig(config: { ENCRYPTION_KEYS?: string | undefined; ENCRYPTION_ACTIVE_KEY_ID?: string | undefined; ENCRYPT_AT_REST: string }): string | undefined {
  let ids: string[] = [];
  try {
    ids = config.ENCRYPTION_KEYS ? [...parseKeyList(config.ENCRYPTION_KEYS).keys()] : [];
  } catch (err) {
    return (err as Error).message.replace(/^invalid option /, '');
  }
  const active = config.ENCRYPTION_ACTIVE_KEY_ID;
  if (active !== undefined && !ids.includes(active)) return `ENCRYPTION_ACTIVE_KEY_ID: key ${active} is not in ENCRYPTION_KEYS`;
  if (active === undefined && ids.length > 0) return 'ENCRYPTION_ACTIVE_KEY_ID: required when ENCRYPTION_KEYS is set';
  if (config.ENCRYPT_AT_REST === 'always' && active === undefined) return 'ENCRYPT_AT_REST: always needs ENCRYPTION_KEYS and ENCRYPTION_ACTIVE_KEY_ID';
  return undefined;
}

// A webhook URL is a credential (Slack's carry their secret in the path).
const SECRET_KEYS = new Set(['INTERNAL_TOKEN', 'INTERNAL_TOKENS', 'S3_SECRET_ACCESS_KEY', 'S3_ACCESS_KEY_ID', 'EMBEDDINGS_API_KEY', 'ALERT_WEBHOOK_URL', 'ENCRYPTION_KEYS', 'WIKI_SERVICE_TOKEN']);

/** The configuration with secrets and URL passwords masked, safe to log. */
export function redactedConfig(config: IngestConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) {
    if (v === undefined) continue;
    if (SECRET_KEYS.has(k)) out[k] = '***';
    else if (typeof v === 'string' && /^[a-z]+:\/\//.test(v)) out[k] = v.replace(/\/\/([^:@/]+):([^@/]+)@/, '//$1:***@');
    else out[k] = v;
  }
  return out;
}

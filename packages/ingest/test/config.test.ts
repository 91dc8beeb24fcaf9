import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, redactedConfig } from '../src/index.ts';

describe('loadConfig', () => {
  const services = { REDIS_URL: 'redis://redis:6379', DATABASE_URL: 'postgres://app@db:5432/ingest' };

  it('defaults to production: AWS S3 with its credential chain, nothing local', () => {
    const c = loadConfig(services);
    expect(c.CHUNK_SIZE_BYTES).toBe(8 * 1024 * 1024);
    expect(c.MAX_RESUME_ATTEMPTS).toBe(3);
    expect(c).toMatchObject({ S3_ENDPOINT: undefined, S3_ACCESS_KEY_ID: undefined, S3_SECRET_ACCESS_KEY: undefined, S3_FORCE_PATH_STYLE: false, S3_REGION: 'us-east-1' });
    expect(loadConfig({ ...services, AWS_REGION: 'eu-west-3' }).S3_REGION).toBe('eu-west-3');
    expect(loadConfig({ ...services, AWS_DEFAULT_REGION: 'ap-south-1' }).S3_REGION).toBe('ap-south-1');
    expect(loadConfig({ ...services, AWS_REGION: 'eu-west-3', S3_REGION: 'us-west-2' }).S3_REGION).toBe('us-west-2');
  });

  it('requires REDIS_URL and DATABASE_URL, and both S3 keys or neither', () => {
    expect(() => loadConfig({})).toThrow(/REDIS_URL[\s\S]*DATABASE_URL|DATABASE_URL[\s\S]*REDIS_URL/);
    expect(() => loadConfig({ ...services, S3_ACCESS_KEY_ID: 'AKIA0123' })).toThrow(/set both, or neither/);
    expect(loadConfig({ ...services, S3_ACCESS_KEY_ID: 'AKIA0123', S3_SECRET_ACCESS_KEY: 'secret' }).S3_ACCESS_KEY_ID).toBe('AKIA0123');
  });

  it('takes TLS URLs: rediss:// and PostgreSQL sslmode', () => {
    const c = loadConfig({ REDIS_URL: 'rediss://cache.example:6380', DATABASE_URL: 'postgres://app@db:5432/ingest?sslmode=verify-full' });
    expect(c.REDIS_URL).toBe('rediss://cache.example:6380');
    expect(c.DATABASE_URL).toContain('sslmode=verify-full');
  });

  it('DATABASE_PREPARE: named statements by default, off for PgBouncer before 1.21, anything else refused', () => {
    expect(loadConfig(services).DATABASE_PREPARE).toBe(true);
    expect(loadConfig({ ...services, DATABASE_PREPARE: 'false' }).DATABASE_PREPARE).toBe(false);
    expect(() => loadConfig({ ...services, DATABASE_PREPARE: 'sometimes' })).toThrow(/DATABASE_PREPARE: must be true or false/);
  });

  it('REDIS_CLUSTER: needs a hash-tagged QUEUE_PREFIX; REDIS_CLUSTER_NODES are host:port seeds, only for a cluster', () => {
    expect(loadConfig(services)).toMatchObject({ REDIS_CLUSTER: false, REDIS_CLUSTER_NODES: undefined, QUEUE_PREFIX: 'ingest' });
    expect(() => loadConfig({ ...services, REDIS_CLUSTER: 'true' })).toThrow(/QUEUE_PREFIX: with REDIS_CLUSTER=true it must be hash-tagged/);
    const c = loadConfig({ ...services, REDIS_CLUSTER: 'true', QUEUE_PREFIX: '{ingest}', REDIS_CLUSTER_NODES: 'r1:7000, r2:7001' });
    expect(c).toMatchObject({ REDIS_CLUSTER: true, QUEUE_PREFIX: '{ingest}', REDIS_CLUSTER_NODES: ['r1:7000', 'r2:7001'] });
    expect(() => loadConfig({ ...services, REDIS_CLUSTER: 'true', QUEUE_PREFIX: '{ingest}', REDIS_CLUSTER_NODES: 'r1' })).toThrow(/REDIS_CLUSTER_NODES: host:port/);
    expect(() => loadConfig({ ...services, REDIS_CLUSTER_NODES: 'r1:7000' })).toThrow(/only with REDIS_CLUSTER=true/);
    expect(() => loadConfig({ ...services, QUEUE_PREFIX: '{ingest' })).toThrow(/QUEUE_PREFIX/);
  });

  it('SAGA_HISTORY_DAYS: 30 by default, fractions and 0 allowed, negative or non-numeric refused; retention batches positive', () => {
    expect(loadConfig(services)).toMatchObject({ SAGA_HISTORY_DAYS: 30, RETENTION_BATCH_SIZE: 500, RETENTION_MAX_BATCHES: 20 });
    expect(loadConfig({ ...services, SAGA_HISTORY_DAYS: '0.5' }).SAGA_HISTORY_DAYS).toBe(0.5);
    expect(loadConfig({ ...services, SAGA_HISTORY_DAYS: '0' }).SAGA_HISTORY_DAYS).toBe(0);
    expect(() => loadConfig({ ...services, SAGA_HISTORY_DAYS: '-1' })).toThrow(/SAGA_HISTORY_DAYS/);
    expect(() => loadConfig({ ...services, SAGA_HISTORY_DAYS: 'a month' })).toThrow(/SAGA_HISTORY_DAYS/);
    expect(() => loadConfig({ ...services, RETENTION_BATCH_SIZE: '0' })).toThrow(/RETENTION_BATCH_SIZE/);
    expect(() => loadConfig({ ...services, RETENTION_MAX_BATCHES: '1.5' })).toThrow(/RETENTION_MAX_BATCHES/);
  });

  it('names every invalid variable', () => {
    const err = (() => {
      try {
        loadConfig({ PORT: 'eighty', REDIS_URL: 'not a url', UPLOAD_CONCURRENCY: '0', S3_FORCE_PATH_STYLE: 'maybe', INTERNAL_TOKEN: 'short' });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as Error).message;
    for (const name of ['PORT', 'REDIS_URL', 'UPLOAD_CONCURRENCY', 'S3_FORCE_PATH_STYLE', 'INTERNAL_TOKEN']) expect(message).toContain(name);
  });

  it('masks secrets and URL passwords when logged', () => {
    const c = loadConfig({ ...services, INTERNAL_TOKEN: 'a-very-secret-token-123', DATABASE_URL: 'postgres://app:hunter2@db:5432/x', S3_ACCESS_KEY_ID: 'AKIA0123', S3_SECRET_ACCESS_KEY: 'topsecret' });
    const shown = JSON.stringify(redactedConfig(c));
    expect(shown).not.toContain('a-very-secret-token-123');
    expect(shown).not.toContain('hunter2');
    expect(shown).not.toContain('topsecret');
    expect(shown).toContain('postgres://app:***@db:5432/x');
  });

  it('takes the wiki saga\'s three settings together or not at all, and masks its token', () => {
    const base = { REDIS_URL: 'redis://r:6379', DATABASE_URL: 'postgres://p/x' };
    expect(loadConfig(base).FILESYSTEM_SERVICE_URL).toBeUndefined();
    expect(() => loadConfig({ ...base, FILESYSTEM_SERVICE_URL: 'http://fs:6001' })).toThrow(/FILESYSTEM_SERVICE_URL, GIT_SERVICE_URL, WIKI_SERVICE_TOKEN: set all three/);
    const c = loadConfig({ ...base, FILESYSTEM_SERVICE_URL: 'http://fs:6001', GIT_SERVICE_URL: 'http://git:6003', WIKI_SERVICE_TOKEN: 'wiki-secret-token-0123' });
    expect(c).toMatchObject({ WIKI_CALL_TIMEOUT_MS: 10_000, WIKI_MAX_FILES: 5000 });
    expect(JSON.stringify(redactedConfig(c))).not.toContain('wiki-secret-token-0123');
  });

  it('validates the encoding settings, naming the variable and never echoing key material', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    const c = loadConfig({ ...services, ENCRYPTION_KEYS: `old:${Buffer.alloc(32, 1).toString('base64')},new:${key}`, ENCRYPTION_ACTIVE_KEY_ID: 'new' });
    expect(c).toMatchObject({ COMPRESSION_LEVEL: 3, COMPRESSION_MIN_SAVINGS_PERCENT: 10, ENCRYPT_AT_REST: 'confidential', ENCRYPTION_ACTIVE_KEY_ID: 'new' });
    expect(JSON.stringify(redactedConfig(c))).not.toContain(key);
    const problem = (env: Record<string, string>) => {
      try {
        loadConfig({ ...services, ...env });
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    };
    const short = Buffer.alloc(16, 9).toString('base64');
    const message = problem({ ENCRYPTION_KEYS: `k1:${short}`, ENCRYPTION_ACTIVE_KEY_ID: 'k1' });
    expect(message).toContain('ENCRYPTION_KEYS');
    expect(message).not.toContain(short);
    expect(problem({ ENCRYPTION_KEYS: `k1:${key}`, ENCRYPTION_ACTIVE_KEY_ID: 'k2' })).toContain('ENCRYPTION_ACTIVE_KEY_ID');
    expect(problem({ ENCRYPT_AT_REST: 'always' })).toContain('ENCRYPT_AT_REST');
    expect(problem({ ENCRYPT_AT_REST: 'sometimes' })).toContain('ENCRYPT_AT_REST');
    expect(problem({ COMPRESSION_LEVEL: '20' })).toContain('COMPRESSION_LEVEL');
  });
});

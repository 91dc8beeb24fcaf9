import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, redactedConfig } from '../src/index.ts';

describe('loadConfig', () => {
  it('defaults to the local services', () => {
    const c = loadConfig({});
    expect(c.CHUNK_SIZE_BYTES).toBe(8 * 1024 * 1024);
    expect(c.S3_FORCE_PATH_STYLE).toBe(true);
    expect(c.MAX_RESUME_ATTEMPTS).toBe(3);
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
    const c = loadConfig({ INTERNAL_TOKEN: 'a-very-secret-token-123', DATABASE_URL: 'postgres://app:hunter2@db:5432/x', S3_SECRET_ACCESS_KEY: 'topsecret' });
    const shown = JSON.stringify(redactedConfig(c));
    expect(shown).not.toContain('a-very-secret-token-123');
    expect(shown).not.toContain('hunter2');
    expect(shown).not.toContain('topsecret');
    expect(shown).toContain('postgres://app:***@db:5432/x');
  });

  it('validates the encoding settings, naming the variable and never echoing key material', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    const c = loadConfig({ ENCRYPTION_KEYS: `old:${Buffer.alloc(32, 1).toString('base64')},new:${key}`, ENCRYPTION_ACTIVE_KEY_ID: 'new' });
    expect(c).toMatchObject({ COMPRESSION_LEVEL: 3, COMPRESSION_MIN_SAVINGS_PERCENT: 10, ENCRYPT_AT_REST: 'confidential', ENCRYPTION_ACTIVE_KEY_ID: 'new' });
    expect(JSON.stringify(redactedConfig(c))).not.toContain(key);
    const problem = (env: Record<string, string>) => {
      try {
        loadConfig(env);
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

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
});

// The producer's logger censors the token wherever a request's headers or the configuration get logged.
import { describe, expect, it } from 'vitest';
import { createProducerLogger } from '../src/logger.ts';

describe('createProducerLogger', () => {
  it('redacts X-Internal-Token in logged requests and INTERNAL_TOKEN in logged configuration', () => {
    const lines: string[] = [];
    const logger = createProducerLogger('info', { write: (line: string) => void lines.push(line) });
    const token = 'secret-token-0123456789';
    logger.info({ req: { headers: { 'x-internal-token': token, host: 'h' } } }, 'request');
    logger.info({ config: { INTERNAL_TOKEN: token, PORT: 8080 } }, 'config');
    logger.child({ request: { headers: { 'x-internal-token': token } } }).info('child');
    expect(lines).toHaveLength(3);
    expect(lines.join('\n')).not.toContain(token);
    expect(JSON.parse(lines[0] ?? '{}').req.headers).toEqual({ 'x-internal-token': '***', host: 'h' });
  });
});

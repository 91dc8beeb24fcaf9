// The token check compares digests with crypto.timingSafeEqual against every configured token, whatever the
// presented token's length and whichever token matches (no early exit).
import { beforeEach, describe, expect, it, vi } from 'vitest';

const calls = vi.hoisted(() => ({ timingSafeEqual: 0 }));
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return {
    ...actual,
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      calls.timingSafeEqual++;
      return actual.timingSafeEqual(a, b);
    },
  };
});

const { createTokenCheck } = await import('../src/token-check.ts');
const { SCOPES } = await import('../src/api-tokens.ts');

describe('createTokenCheck', () => {
  const expected = 'a-very-secret-internal-token';
  const lookup = createTokenCheck([{ name: 'internal', secret: expected, scopes: new Set(SCOPES) }]);
  const check = (presented: string | undefined) => lookup(presented) !== undefined;

  beforeEach(() => {
    calls.timingSafeEqual = 0;
  });

  it('accepts exactly the configured token', () => {
    expect(check(expected)).toBe(true);
    expect(calls.timingSafeEqual).toBe(1);
  });

  it('rejects a token of the same length that differs, through the constant-time compare', () => {
    const wrong = `${expected.slice(0, -1)}X`;
    expect(check(wrong)).toBe(false);
    expect(calls.timingSafeEqual).toBe(1);
  });

  it('rejects shorter, longer and empty tokens without throwing (digests have equal length)', () => {
    expect(check(expected.slice(0, 5))).toBe(false);
    expect(check(`${expected}-and-more`)).toBe(false);
    expect(check('')).toBe(false);
    expect(calls.timingSafeEqual).toBe(3);
  });

  it('rejects a missing token', () => {
    expect(check(undefined)).toBe(false);
  });

  it('compares against every configured token without stopping at the first match, and names the one that matched', () => {
    const tokens = [
      { name: 'upstream-a', secret: 'old-secret-of-upstream-a', scopes: new Set(['submit'] as const) },
      { name: 'upstream-a', secret: 'new-secret-of-upstream-a', scopes: new Set(['submit'] as const) },
      { name: 'ops', secret: 'secret-of-the-operators', scopes: new Set(SCOPES) },
    ];
    const find = createTokenCheck(tokens);
    calls.timingSafeEqual = 0;
    expect(find('old-secret-of-upstream-a')).toBe(tokens[0]);
    expect(find('new-secret-of-upstream-a')).toBe(tokens[1]);
    expect(find('secret-of-the-operators')?.name).toBe('ops');
    expect(find('nobody-has-this-secret')).toBeUndefined();
    expect(calls.timingSafeEqual).toBe(12);
  });
});

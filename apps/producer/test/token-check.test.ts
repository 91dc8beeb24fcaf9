// The token check compares digests with crypto.timingSafeEqual for every presented token, whatever its length.
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

describe('createTokenCheck', () => {
  const expected = 'a-very-secret-internal-token';
  const check = createTokenCheck(expected);

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
});

// Constant-time lookup of the X-Internal-Token header among the configured tokens.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiToken } from './api-tokens.ts';

/**
 * Returns a lookup of the token a presented secret belongs to. Every configured token is compared, with no early
 * exit, so the time taken depends neither on which token matched nor on how much of a wrong one did.
 */
export function createTokenCheck(tokens: readonly ApiToken[]): (presented: string | undefined) => ApiToken | undefined {
  // Hashing first gives equal-length inputs, which timingSafeEqual requires, without leaking the length.
  const digests = tokens.map((t) => digest(t.secret));
  return (presented) => {
    if (presented === undefined) return undefined;
    const candidate = digest(presented);
    let found = -1;
    for (let i = 0; i < digests.length; i++) {
      const equal = timingSafeEqual(candidate, digests[i]!);
      found = equal ? i : found;
    }
    return found < 0 ? undefined : tokens[found];
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

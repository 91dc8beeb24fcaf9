// The X-INTERNAL-TOKEN check both wiki services run on every request, in constant time.
import { createHash, timingSafeEqual } from 'node:crypto';

/** The header every call between the saga and its services carries. */
export const INTERNAL_TOKEN_HEADER = 'x-internal-token';

/** Returns a check of a presented token against the configured one; its time depends on neither value. */
export function createInternalTokenCheck(expected: string): (presented: string | undefined) => boolean {
  // Hashing first gives equal-length inputs, which timingSafeEqual requires, without leaking the length.
  const want = digest(expected);
  return (presented) => timingSafeEqual(digest(presented ?? ''), want) && presented !== undefined;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

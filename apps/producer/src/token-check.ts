// Constant-time comparison of the X-Internal-Token header with the configured token.
import { createHash, timingSafeEqual } from 'node:crypto';

/** Returns a predicate telling whether a presented token equals `expected`, in time independent of both. */
export function createTokenCheck(expected: string): (presented: string | undefined) => boolean {
  // Hashing first gives equal-length inputs, which timingSafeEqual requires, without leaking the length.
  const expectedDigest = digest(expected);
  return (presented) => {
    if (presented === undefined) return false;
    return timingSafeEqual(digest(presented), expectedDigest);
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

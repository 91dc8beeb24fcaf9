// Counts failed authentications per client address in a fixed one-minute window; past the limit, that address is
// answered 429 without its token even being compared (so guessing cannot go on at any speed). Memory is bounded.

/** Options of createAuthFailureLimiter. */
export interface AuthFailureLimiterOptions {
  /** Failed attempts an address may make per window before it is refused. */
  maxFailures: number;
  /** Window length in ms. Default 60 000. */
  windowMs?: number;
  /** Addresses tracked at most; the oldest windows are dropped first. Default 10 000. */
  maxAddresses?: number;
  /** Clock, for tests. Default Date.now. */
  now?: () => number;
}

/** The limiter the producer's auth hook consults. */
export interface AuthFailureLimiter {
  /** Seconds until `address` may try again, or 0 when it may try now. */
  retryAfterSeconds(address: string): number;
  /** Records a failed attempt of `address`. */
  recordFailure(address: string): void;
}

/** Creates a limiter over an in-memory map (per producer process). */
export function createAuthFailureLimiter(options: AuthFailureLimiterOptions): AuthFailureLimiter {
  const windowMs = options.windowMs ?? 60_000;
  const maxAddresses = options.maxAddresses ?? 10_000;
  const now = options.now ?? Date.now;
  // Insertion order is window-start order (an expired entry is deleted before it is re-added), so the first keys are the oldest.
  const windows = new Map<string, { startedAt: number; failures: number }>();
  const current = (address: string) => {
    const w = windows.get(address);
    if (w && now() - w.startedAt >= windowMs) {
      windows.delete(address);
      return undefined;
    }
    return w;
  };
  return {
    retryAfterSeconds(address) {
      const w = current(address);
      if (!w || w.failures < options.maxFailures) return 0;
      return Math.max(1, Math.ceil((w.startedAt + windowMs - now()) / 1000));
    },
    recordFailure(address) {
      const w = current(address);
      if (w) {
        w.failures += 1;
        return;
      }
      while (windows.size >= maxAddresses) windows.delete(windows.keys().next().value!);
      windows.set(address, { startedAt: now(), failures: 1 });
    },
  };
}

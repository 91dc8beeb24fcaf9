// Backoff arithmetic for step retries, and a small helper for infrastructure retries (lost connections).
import type { RetryPolicy } from './types.ts';

/** Default policy for actions. */
export const DEFAULT_ACTION_RETRY: RetryPolicy = { attempts: 3, backoffMs: 1000, backoff: 'exponential' };
/** Default policy for compensations: they try harder, since giving up leaves a leftover. */
export const DEFAULT_COMPENSATION_RETRY: RetryPolicy = { attempts: 5, backoffMs: 1000, backoff: 'exponential' };

/** Delay before attempt `nextAttempt` (2 = first retry). */
export function backoffDelay(policy: RetryPolicy, nextAttempt: number, random: () => number = Math.random): number {
  if (policy.backoff === 'fixed') return policy.backoffMs;
  const cap = policy.maxBackoffMs ?? 60_000;
  const raw = Math.min(cap, policy.backoffMs * 2 ** Math.max(0, nextAttempt - 2));
  return Math.round(raw * (0.8 + 0.4 * random()));
}

const TRANSIENT_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT']);

/** True for errors of the plumbing (connection lost, deadlock, serialization), walking `cause`. */
export function isTransientInfraError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (TRANSIENT_ERRNOS.has(code)) return true;
      // SQLSTATE classes 08 (connection), 40 (rollback: serialization, deadlock), 53 (resources), 57 (operator intervention)
      if (/^(08|40|53|57)[0-9A-Z]{3}$/.test(code)) return true;
    }
  }
  return false;
}

/** Runs `fn`, retrying transient infrastructure errors with capped, jittered backoff. */
export async function withInfraRetry<T>(fn: () => Promise<T>, options: { attempts?: number; baseMs?: number } = {}): Promise<T> {
  const attempts = options.attempts ?? 5;
  const base = options.baseMs ?? 200;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || !isTransientInfraError(err)) throw err;
      await new Promise((r) => setTimeout(r, Math.min(5000, base * 2 ** (attempt - 1)) * (0.5 + Math.random())));
    }
  }
}

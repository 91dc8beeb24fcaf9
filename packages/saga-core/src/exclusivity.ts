// A saga's exclusivity keys, held for its whole life: taken at start, checked before each action, released at its end.
import { eq } from 'drizzle-orm';
import type { EngineCore } from './core.ts';
import { SagaLockedError } from './errors.ts';
import { sagaInstances } from './schema.ts';
import { isLiveStatus } from './state-machine.ts';

/**
 * Takes or refreshes all of `lockKeys` for `sagaId` in one round trip; takes over a key whose holder has ended; throws
 * SagaLockedError naming the first key (in sorted order) that a live saga holds, and that saga. Keys are tried in
 * sorted order so two sagas wanting the same keys report the same one.
 */
export async function ensureLocks(core: EngineCore, lockKeys: readonly string[], sagaId: string, deadlineAt: Date): Promise<void> {
  if (lockKeys.length === 0) return;
  const keys = [...lockKeys].sort();
  const ttl = Math.max(60_000, deadlineAt.getTime() - Date.now() + core.timings.lockTtlMarginMs);
  // Each pass either succeeds, throws, or takes over one stale key: at most one pass per key, plus the last.
  for (let pass = 0; pass <= keys.length; pass++) {
    const held = await core.locks.acquire(keys, sagaId, ttl);
    if (held === null) return;
    // Redis says someone holds it; PostgreSQL decides whether that saga is still live.
    const [h] = await core.db.select({ status: sagaInstances.status }).from(sagaInstances).where(eq(sagaInstances.id, held.holder));
    if (h && isLiveStatus(h.status)) throw new SagaLockedError(held.lockKey, held.holder);
    if (await core.locks.replace(held.lockKey, held.holder, sagaId, ttl)) {
      core.logger.info({ lockKey: held.lockKey, staleHolder: held.holder, sagaId }, 'took over a stale lock');
    }
  }
  const held = await core.locks.acquire(keys, sagaId, ttl);
  if (held !== null) throw new SagaLockedError(held.lockKey, held.holder);
}

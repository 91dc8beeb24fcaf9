// A saga's exclusivity key, held for its whole life: taken at start, checked before each action, released at its end.
import { eq } from 'drizzle-orm';
import type { EngineCore } from './core.ts';
import { SagaLockedError } from './errors.ts';
import { sagaInstances } from './schema.ts';
import { isLiveStatus } from './state-machine.ts';

/** Takes or refreshes `lockKey` for `sagaId`; takes over a lock whose holder has ended; throws SagaLockedError otherwise. */
export async function ensureLock(core: EngineCore, lockKey: string, sagaId: string, deadlineAt: Date): Promise<void> {
  const ttl = Math.max(60_000, deadlineAt.getTime() - Date.now() + core.timings.lockTtlMarginMs);
  const holder = await core.locks.acquire(lockKey, sagaId, ttl);
  if (holder === null) return;
  // Redis says someone holds it; PostgreSQL decides whether that saga is still live.
  const [h] = await core.db.select({ status: sagaInstances.status }).from(sagaInstances).where(eq(sagaInstances.id, holder));
  if (h && isLiveStatus(h.status)) throw new SagaLockedError(lockKey, holder);
  if (!(await core.locks.replace(lockKey, holder, sagaId, ttl))) {
    const now = await core.locks.acquire(lockKey, sagaId, ttl);
    if (now !== null) throw new SagaLockedError(lockKey, now);
  }
  core.logger.info({ lockKey, staleHolder: holder, sagaId }, 'took over a stale lock');
}

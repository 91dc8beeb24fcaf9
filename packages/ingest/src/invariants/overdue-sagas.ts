// Sagas still running or compensating past their deadline plus a grace: the promise of a terminal state is late.
import { and, asc, gt, inArray, lt } from 'drizzle-orm';
import { LIVE_STATUSES, sagaSchema } from '@ingest/saga-core';
import type { CheckContext } from './check-context.ts';

const { sagaInstances } = sagaSchema;

/** Reports overdue_saga, page by page. */
export async function scanOverdueSagas(ctx: CheckContext): Promise<void> {
  const cutoff = new Date(Date.now() - ctx.options.overdueGraceMs);
  let after: string | null = null;
  // Bounded: keyset pages over the (few) live sagas; ends on a short page.
  for (;;) {
    ctx.checkAborted();
    const live = inArray(sagaInstances.status, [...LIVE_STATUSES]);
    const late = lt(sagaInstances.deadlineAt, cutoff);
    const page = await ctx.sagaDb
      .select({ id: sagaInstances.id, status: sagaInstances.status, state: sagaInstances.state, deadlineAt: sagaInstances.deadlineAt })
      .from(sagaInstances)
      .where(after === null ? and(live, late) : and(live, late, gt(sagaInstances.id, after)))
      .orderBy(asc(sagaInstances.id))
      .limit(ctx.options.pageSize);
    for (const s of page) {
      ctx.report({ kind: 'overdue_saga', sagaId: s.id, status: s.status, state: s.state, deadlineAt: s.deadlineAt.toISOString(), overdueMs: Date.now() - s.deadlineAt.getTime() });
    }
    const last: string | undefined = page[page.length - 1]?.id;
    if (last === undefined || page.length < ctx.options.pageSize) return;
    after = last;
  }
}

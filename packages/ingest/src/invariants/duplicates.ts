// Exactly-once effect, checked from the outside: one committed document per saga, one completed saga per idempotency key.
import { and, eq, isNotNull, sql as dsql } from 'drizzle-orm';
import { sagaSchema } from '@ingest/saga-core';
import { storageSchema } from '@ingest/storage';
import type { CheckContext } from './check-context.ts';

const { sagaInstances } = sagaSchema;
const { documents } = storageSchema;

/** Reports duplicate_document; only the duplicates come back from the database, so memory stays small. */
export async function scanDuplicates(ctx: CheckContext): Promise<void> {
  const limit = Math.max(1, ctx.options.maxViolations);
  const sagaOfDoc = dsql<string>`${documents.metadata}->>'sagaId'`;
  const bySaga = await ctx
    .storeDb('relational')
    .select({ sagaId: sagaOfDoc, ids: dsql<string[]>`array_agg(${documents.id}::text order by ${documents.id})` })
    .from(documents)
    .where(isNotNull(sagaOfDoc))
    .groupBy(sagaOfDoc)
    .having(dsql`count(*) > 1`)
    .limit(limit);
  for (const d of bySaga) ctx.report({ kind: 'duplicate_document', by: 'saga', sharedKey: d.sagaId, ids: d.ids });

  const byKey = await ctx.sagaDb
    .select({ key: sagaInstances.idempotencyKey, ids: dsql<string[]>`array_agg(${sagaInstances.id}::text order by ${sagaInstances.id})` })
    .from(sagaInstances)
    .where(and(eq(sagaInstances.status, 'completed'), isNotNull(sagaInstances.idempotencyKey)))
    .groupBy(sagaInstances.idempotencyKey)
    .having(dsql`count(*) > 1`)
    .limit(limit);
  for (const d of byKey) ctx.report({ kind: 'duplicate_document', by: 'idempotency_key', sharedKey: d.key ?? '', ids: d.ids });
}

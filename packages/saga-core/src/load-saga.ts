// Loads a saga row FOR UPDATE with its steps, inside a transaction.
import { asc, eq } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { InstanceRow, StepRow, Tx } from './db.ts';
import { sagaInstances, sagaSteps } from './schema.ts';
import type { SagaDefinition } from './types.ts';
import type { LockedSaga } from './transitions.ts';

/** The locked row and steps, or null when there is no such saga. */
export async function lockSagaRow(tx: Tx, sagaId: string): Promise<{ saga: InstanceRow; steps: StepRow[] } | null> {
  const [saga] = await tx.select().from(sagaInstances).where(eq(sagaInstances.id, sagaId)).for('update');
  if (!saga) return null;
  const steps = await tx.select().from(sagaSteps).where(eq(sagaSteps.sagaId, sagaId)).orderBy(asc(sagaSteps.stepIndex));
  return { saga, steps };
}

/** Same, bound to its definition; null when the saga does not exist. Throws when the definition is unknown. */
export async function lockSaga(tx: Tx, sagaId: string, defs: Map<string, SagaDefinition>, logger: Logger): Promise<LockedSaga | null> {
  const found = await lockSagaRow(tx, sagaId);
  if (!found) return null;
  const def = defs.get(found.saga.name);
  if (!def) throw new Error(`saga ${sagaId} is a "${found.saga.name}", which this process does not know`);
  return { tx, ...found, def, log: logger.child({ sagaId, saga: def.name }) };
}

// Retention of the engine's tables: delivered outbox rows go at once, the history of ended sagas after a retention
// period. Every delete is one short statement over a bounded batch of rows locked with SKIP LOCKED, so it never
// waits on (or blocks) a saga being worked on, and a pass is capped so a large backlog drains over several passes.
import type { EngineCore } from './core.ts';
import { SagaInputError } from './errors.ts';
import type { SagaStatus } from './state-machine.ts';
import type { JsonValue } from './types.ts';

/** An ended saga whose history is due, as the `release` hook of pruneHistory sees it. */
export interface EndedSagaRef {
  id: string;
  name: string;
  status: SagaStatus;
  input: JsonValue;
}

/** Options of pruneHistory. */
export interface PruneHistoryOptions {
  /** History of sagas that ended at least this long ago goes (SAGA_HISTORY_DAYS). 0: as soon as they end. */
  retainMs: number;
  /** Rows (outbox) or sagas (history) per statement. Default 500. */
  batchSize?: number;
  /** Statements per kind per call: the pass's cap; the rest waits for the next pass. Default 20. */
  maxBatches?: number;
  /**
   * Called with each batch of due sagas before their rows go; returns the ids whose data outside the engine is
   * settled (for example their upload manifests verified gone). The others keep their history until a later pass.
   * Runs outside any transaction. Default: every saga is settled.
   */
  release?: (sagas: readonly EndedSagaRef[]) => Promise<Iterable<string>>;
}

/** What one call removed. */
export interface PruneHistoryResult {
  /** Delivered outbox rows deleted. */
  outboxDelivered: number;
  /** Ended sagas whose steps, events, outbox rows and resolved leftovers were deleted. */
  sagasPruned: number;
  /** Of those, sagas that had not completed and whose row went too (a completed saga's row stays: it names what it committed). */
  sagasForgotten: number;
  /** Rows deleted with those sagas: steps, events, outbox, resolved leftovers. */
  historyRows: number;
  /** Due sagas the release hook held back (their outside data not yet settled). */
  held: number;
}

/** Deletes delivered outbox rows, a batch at a time (a delivered row is never read again: see below). */
export async function pruneDeliveredOutbox(core: EngineCore, batchSize = 500, maxBatches = 20): Promise<number> {
  // Safe to delete at once: the relay reads only rows with dispatched_at null, a job marks only its own row and only
  // while it is null, and job ids grow with dispatch_seq, so no later insert can reuse a deleted row's job id.
  let deleted = 0;
  for (let i = 0; i < maxBatches; i++) {
    const rows = await core.sql`
      delete from saga_outbox where id in (
        select id from saga_outbox where dispatched_at is not null order by id limit ${batchSize} for update skip locked
      ) returning 1 as x`;
    deleted += rows.length;
    if (rows.length < batchSize) break;
  }
  return deleted;
}

/**
 * Prunes the history of sagas that ended at least `retainMs` ago and have no unresolved leftover (a saga that ended
 * compensation_failed is kept until the janitor resolved every leftover). Live sagas are never candidates.
 */
export async function pruneHistory(core: EngineCore, options: PruneHistoryOptions): Promise<PruneHistoryResult> {
  if (!Number.isFinite(options.retainMs) || options.retainMs < 0) throw new SagaInputError('retainMs must be a non-negative number of milliseconds');
  const batchSize = options.batchSize ?? 500;
  const maxBatches = options.maxBatches ?? 20;
  if (!Number.isInteger(batchSize) || batchSize < 1 || !Number.isInteger(maxBatches) || maxBatches < 1) {
    throw new SagaInputError('batchSize and maxBatches must be positive integers');
  }
  const result: PruneHistoryResult = { outboxDelivered: 0, sagasPruned: 0, sagasForgotten: 0, historyRows: 0, held: 0 };
  result.outboxDelivered = await pruneDeliveredOutbox(core, batchSize, maxBatches);
  const cutoff = new Date(Date.now() - options.retainMs).toISOString();
  // Keyset over (finished_at, id) within the call, so sagas held back do not hide the ones after them. The ended
  // statuses are written out, not bound: a generic plan can then still prove the partial index saga_instances_prunable.
  let after = { at: '-infinity', id: '00000000-0000-0000-0000-000000000000' };
  for (let i = 0; i < maxBatches; i++) {
    // finished_at as text: exact to the microsecond, so the keyset neither skips nor repeats a saga.
    const due: { id: string; name: string; status: SagaStatus; input: JsonValue; at: string }[] = await core.sql`
      select s.id, s.name, s.status, s.input, s.finished_at::text as at from saga_instances s
       where s.history_pruned_at is null and s.status in ('completed', 'compensated', 'compensation_failed', 'failed')
         and s.finished_at <= ${cutoff}::timestamptz
         and (s.finished_at, s.id) > (${after.at}::timestamptz, ${after.id}::uuid)
         and not exists (select 1 from failed_cleanups f where f.saga_id = s.id and f.resolved_at is null)
       order by s.finished_at, s.id
       limit ${batchSize}`;
    const last = due[due.length - 1];
    if (!last) break;
    after = { at: last.at, id: last.id };
    const released = options.release ? new Set(await options.release(due.map(({ id, name, status, input }) => ({ id, name, status, input })))) : null;
    const ids = released ? due.filter((s) => released.has(s.id)).map((s) => s.id) : due.map((s) => s.id);
    result.held += due.length - ids.length;
    if (ids.length > 0) {
      const [counts] = await deleteHistory(core, ids, cutoff);
      result.sagasPruned += Number(counts?.sagas ?? 0);
      result.sagasForgotten += Number(counts?.forgotten ?? 0);
      result.historyRows += Number(counts?.steps ?? 0) + Number(counts?.events ?? 0) + Number(counts?.outbox ?? 0) + Number(counts?.cleanups ?? 0);
    }
    if (due.length < batchSize) break;
  }
  if (result.sagasPruned > 0 || result.outboxDelivered > 0) core.logger.info({ ...result }, 'retention pruned engine rows');
  return result;
}

/** One statement, so one short transaction: re-checks each saga under a row lock (skipping locked ones) and deletes its rows. */
function deleteHistory(core: EngineCore, ids: readonly string[], cutoff: string) {
  return core.sql<{ sagas: string; forgotten: string; steps: string; events: string; outbox: string; cleanups: string }[]>`
    with victims as (
      select s.id, s.status from saga_instances s
       where s.id = any(${ids}::uuid[]) and s.history_pruned_at is null and s.status in ('completed', 'compensated', 'compensation_failed', 'failed')
         and s.finished_at <= ${cutoff}::timestamptz
         and not exists (select 1 from failed_cleanups f where f.saga_id = s.id and f.resolved_at is null)
       for update of s skip locked
    ), events as (
      delete from saga_events e using victims v where e.saga_id = v.id returning 1
    ), outbox as (
      delete from saga_outbox o using victims v where o.saga_id = v.id returning 1
    ), steps as (
      delete from saga_steps st using victims v where st.saga_id = v.id returning 1
    ), cleanups as (
      delete from failed_cleanups f using victims v where f.saga_id = v.id and f.resolved_at is not null returning 1
    ), forgotten as (
      delete from saga_instances i using victims v where i.id = v.id and v.status <> 'completed' returning 1
    ), kept as (
      update saga_instances i set history_pruned_at = now() from victims v where i.id = v.id and v.status = 'completed' returning 1
    )
    select (select count(*) from victims) as sagas, (select count(*) from forgotten) as forgotten, (select count(*) from steps) as steps,
           (select count(*) from events) as events, (select count(*) from outbox) as outbox, (select count(*) from cleanups) as cleanups`;
}

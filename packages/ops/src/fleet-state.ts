// The one module that reads the engine's saga tables for operators (saga_instances, saga_steps, failed_cleanups,
// saga_dead_letters) and the fleet's heartbeats: when the engine's columns change, this file is what adapts.
// (alert-delivery.ts reads saga_alerts, whose outbox it owns.)
import type { Sql } from 'postgres';
import { InvalidQueryError } from './errors.ts';
import type { SagaCursor, SagaFilter } from './saga-query.ts';

/** Live statuses, as the engine names them. */
const LIVE = ['running', 'compensating'];

/** Counts the gauges need, read in one round trip. */
export interface FleetCounts {
  /** Live sagas idle past the threshold with no lease, or waiting out a retry backoff. */
  stuckSagas: number;
  /** Leftovers not yet removed. */
  openLeftovers: number;
  /** Age of the oldest open leftover, in seconds; 0 when there is none. */
  oldestOpenLeftoverSeconds: number;
  /** Unix seconds of the janitor's last finished pass; null when none was recorded. */
  janitorLastPassSeconds: number | null;
  /** Alerts written but not yet delivered to the webhook. */
  undeliveredAlerts: number;
}

/** SQL condition of a stuck saga over the alias `s`; `$idle` is the idle threshold in seconds. */
export function stuckCondition(sql: Sql, idleSeconds: number) {
  return sql`s.status in ${sql(LIVE)} and (
    (s.updated_at < now() - make_interval(secs => ${idleSeconds}) and (s.lease_until is null or s.lease_until < now()))
    or exists (select 1 from saga_steps st where st.saga_id = s.id and st.step_index = s.current_step and st.status = 'failed')
  )`;
}

/** Reads the fleet-wide counts behind the Prometheus gauges. */
export async function readFleetCounts(sql: Sql, idleSeconds: number): Promise<FleetCounts> {
  const [row] = await sql<{ stuck: number; open: number; oldest: number; janitor: number | null; undelivered: number }[]>`
    select
      (select count(*)::int from saga_instances s where ${stuckCondition(sql, idleSeconds)}) as stuck,
      (select count(*)::int from failed_cleanups where resolved_at is null) as open,
      (select coalesce(extract(epoch from now() - min(created_at)), 0)::float8 from failed_cleanups where resolved_at is null) as oldest,
      (select extract(epoch from at)::float8 from fleet_heartbeats where name = 'janitor_pass') as janitor,
      (select count(*)::int from alert_deliveries where delivered_at is null) as undelivered`;
  return {
    stuckSagas: row?.stuck ?? 0,
    openLeftovers: row?.open ?? 0,
    oldestOpenLeftoverSeconds: row?.oldest ?? 0,
    janitorLastPassSeconds: row?.janitor ?? null,
    undeliveredAlerts: row?.undelivered ?? 0,
  };
}

/** Records that a process finished something periodic now (the janitor's pass), with what it reported. */
export async function recordHeartbeat(sql: Sql, name: string, data: Record<string, unknown> = {}): Promise<void> {
  await sql`insert into fleet_heartbeats (name, at, data) values (${name}, now(), ${JSON.stringify(data)}::jsonb)
    on conflict (name) do update set at = excluded.at, data = excluded.data`;
}

/** One row of GET /v1/sagas. */
export interface SagaSummary {
  id: string;
  saga: string;
  status: string;
  state: string;
  currentStep: string | null;
  phase: 'action' | 'compensation';
  /** Attempts of the current step in its current phase. */
  attempts: number;
  /** The saga's last reported progress (for uploads: bytesDone, bytesTotal, percent, bytesPerSecond, etaSeconds). */
  progress: Record<string, unknown> | null;
  ageSeconds: number;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  lastError: string | null;
}

/** A page of summaries, newest first; `nextCursor` is null on the last page. */
export interface SagaPage {
  sagas: SagaSummary[];
  nextCursor: SagaCursor | null;
}

interface SummaryRow {
  id: string;
  name: string;
  status: string;
  state: string;
  current_phase: string;
  progress: Record<string, unknown> | null;
  failure: { message?: unknown } | null;
  created_text: string;
  created_at: Date | string;
  updated_at: Date | string;
  finished_at: Date | string | null;
  age_seconds: number;
  step_name: string | null;
  attempts: number | null;
  compensation_attempts: number | null;
  error: string | null;
  compensation_error: string | null;
}

/** What searchSagas needs besides the filter. */
export interface SagaSearchContext {
  /** Idle seconds after which a live saga is stuck (STUCK_AFTER_SECONDS). */
  stuckAfterSeconds: number;
  /** Step names of each saga definition, in order: `step=` filters on (saga, current step index). */
  stepsBySaga: Record<string, readonly string[]>;
}

/**
 * Newest first, keyset-paginated on (created_at, id): every filter is an equality or a range on an index that ends
 * in (created_at DESC, id DESC), so a page costs an index range scan of `limit` rows whatever the table's size.
 */
export async function searchSagas(sql: Sql, filter: SagaFilter, ctx: SagaSearchContext): Promise<SagaPage> {
  const rows = await sagaSearchQuery(sql, filter, ctx);
  const page = rows.slice(0, filter.limit);
  const last = page.at(-1);
  return {
    sagas: page.map(toSummary),
    nextCursor: rows.length > filter.limit && last ? { createdAt: last.created_text, id: last.id } : null,
  };
}

/** The statement searchSagas runs (one row more than the limit, to know whether a next page exists); exported so a test can EXPLAIN it. */
export function sagaSearchQuery(sql: Sql, filter: SagaFilter, ctx: SagaSearchContext) {
  const conds = [sql`true`];
  if (filter.status !== undefined) conds.push(sql`s.status = ${filter.status}`);
  if (filter.state !== undefined) conds.push(sql`s.state = ${filter.state}`);
  if (filter.saga !== undefined) conds.push(sql`s.name = ${filter.saga}`);
  if (filter.step !== undefined) {
    const pairs = Object.entries(ctx.stepsBySaga)
      .filter(([saga]) => filter.saga === undefined || saga === filter.saga)
      .flatMap(([saga, steps]) => steps.flatMap((name, index) => (name === filter.step ? [sql`(s.name = ${saga} and s.current_step = ${index})`] : [])));
    if (pairs.length === 0) throw new InvalidQueryError([{ field: 'step', message: `no saga${filter.saga === undefined ? '' : ` ${filter.saga}`} has a step named ${filter.step}` }]);
    conds.push(sql`(${pairs.reduce((a, b) => sql`${a} or ${b}`)})`);
  }
  if (filter.stuck) conds.push(stuckCondition(sql, ctx.stuckAfterSeconds));
  if (filter.createdAfter !== undefined) conds.push(sql`s.created_at > ${filter.createdAfter.toISOString()}::timestamptz`);
  if (filter.createdBefore !== undefined) conds.push(sql`s.created_at < ${filter.createdBefore.toISOString()}::timestamptz`);
  if (filter.cursor !== undefined) conds.push(sql`(s.created_at, s.id) < (${filter.cursor.createdAt}::timestamptz, ${filter.cursor.id}::uuid)`);
  const where = conds.reduce((a, b) => sql`${a} and ${b}`);
  return sql<SummaryRow[]>`
    select s.id, s.name, s.status, s.state, s.current_phase, s.progress, s.failure,
      s.created_at::text as created_text, s.created_at, s.updated_at, s.finished_at,
      extract(epoch from now() - s.created_at)::float8 as age_seconds,
      st.name as step_name, st.attempts, st.compensation_attempts, st.error, st.compensation_error
    from saga_instances s
    left join saga_steps st on st.saga_id = s.id and st.step_index = s.current_step
    where ${where}
    order by s.created_at desc, s.id desc
    limit ${filter.limit + 1}`;
}

function toSummary(r: SummaryRow): SagaSummary {
  const compensating = r.current_phase === 'compensation';
  const failureMessage = typeof r.failure?.message === 'string' ? r.failure.message : null;
  return {
    id: r.id,
    saga: r.name,
    status: r.status,
    state: r.state,
    currentStep: r.step_name,
    phase: compensating ? 'compensation' : 'action',
    attempts: (compensating ? r.compensation_attempts : r.attempts) ?? 0,
    progress: r.progress,
    ageSeconds: Math.max(0, Math.round(r.age_seconds)),
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
    finishedAt: r.finished_at === null ? null : iso(r.finished_at),
    lastError: (compensating ? r.compensation_error : r.error) ?? r.error ?? failureMessage,
  };
}

function iso(v: Date | string): string {
  return new Date(v).toISOString();
}

/** One recorded leftover (failed_cleanups row). */
export interface CleanupSummary {
  id: number;
  sagaId: string;
  step: string;
  store: string;
  key: string;
  error: string;
  lastError: string | null;
  attempts: number;
  nextAttemptAt: string;
  resolvedAt: string | null;
  createdAt: string;
}

/** Leftovers, newest first, `limit` after id `before` (keyset on id). */
export async function listCleanups(sql: Sql, o: { state: 'open' | 'resolved'; limit: number; before?: number }): Promise<CleanupSummary[]> {
  const rows = await sql<
    { id: number; saga_id: string; step: string; store: string; key: string; error: string; last_error: string | null; attempts: number; next_attempt_at: Date | string; resolved_at: Date | string | null; created_at: Date | string }[]
  >`select id::int as id, saga_id, step, store, key, error, last_error, attempts, next_attempt_at, resolved_at, created_at
    from failed_cleanups
    where (resolved_at is null) = ${o.state === 'open'} and id < ${o.before ?? Number.MAX_SAFE_INTEGER}
    order by id desc limit ${o.limit}`;
  return rows.map((r) => ({
    id: r.id,
    sagaId: r.saga_id,
    step: r.step,
    store: r.store,
    key: r.key,
    error: r.error,
    lastError: r.last_error,
    attempts: r.attempts,
    nextAttemptAt: iso(r.next_attempt_at),
    resolvedAt: r.resolved_at === null ? null : iso(r.resolved_at),
    createdAt: iso(r.created_at),
  }));
}

/** One leftover by id, or undefined. */
export async function findCleanup(sql: Sql, id: number): Promise<CleanupSummary | undefined> {
  const [row] = await sql<{ state: 'open' | 'resolved' }[]>`select case when resolved_at is null then 'open' else 'resolved' end as state from failed_cleanups where id = ${id}`;
  if (!row) return undefined;
  const [c] = await listCleanups(sql, { state: row.state, limit: 1, before: id + 1 });
  return c;
}

/** A job set aside as unprocessable (saga_dead_letters row). */
export interface DeadLetter {
  id: number;
  queue: string;
  jobId: string | null;
  data: unknown;
  reason: string;
  createdAt: string;
}

/** Dead letters, newest first, `limit` after id `before`. */
export async function listDeadLetters(sql: Sql, o: { limit: number; before?: number }): Promise<DeadLetter[]> {
  const rows = await sql<{ id: number; queue: string; job_id: string | null; data: unknown; reason: string; created_at: Date | string }[]>`
    select id::int as id, queue, job_id, data, reason, created_at from saga_dead_letters
    where id < ${o.before ?? Number.MAX_SAFE_INTEGER} order by id desc limit ${o.limit}`;
  return rows.map((r) => ({ id: r.id, queue: r.queue, jobId: r.job_id, data: r.data, reason: r.reason, createdAt: iso(r.created_at) }));
}

/** Deletes a dead letter; false when it did not exist (already discarded or requeued). */
export async function deleteDeadLetter(sql: Sql, id: number): Promise<boolean> {
  const rows = await sql`delete from saga_dead_letters where id = ${id} returning id`;
  return rows.length > 0;
}

/** Throughput of the last hour: sagas completed and the source bytes they carried (input.sizeBytes). */
export interface LastHour {
  completed: number;
  bytes: number;
  docsPerSecond: number;
  bytesPerSecond: number;
}

/** Reads the last hour's throughput through the (status, updated_at) index: a completed saga is not updated again. */
export async function readLastHour(sql: Sql): Promise<LastHour> {
  const [row] = await sql<{ n: number; bytes: number }[]>`
    select count(*)::int as n, coalesce(sum(case when jsonb_typeof(input->'sizeBytes') = 'number' then (input->>'sizeBytes')::float8 else 0 end), 0)::float8 as bytes
    from saga_instances where status = 'completed' and updated_at > now() - interval '1 hour'`;
  const n = row?.n ?? 0;
  const bytes = row?.bytes ?? 0;
  return { completed: n, bytes, docsPerSecond: n / 3600, bytesPerSecond: bytes / 3600 };
}

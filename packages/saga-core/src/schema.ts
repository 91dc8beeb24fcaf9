// PostgreSQL tables of the engine: current state, step log, append-only events, outbox, leftovers, alerts, dead letters.
import { sql } from 'drizzle-orm';
import { bigserial, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** One row per saga: its current state. `dispatchSeq` names the only job that may act on it next. */
export const sagaInstances = pgTable(
  'saga_instances',
  {
    id: uuid('id').primaryKey(),
    name: text('name').notNull(),
    state: text('state').notNull(),
    status: text('status').notNull(),
    input: jsonb('input').notNull(),
    idempotencyKey: text('idempotency_key'),
    /** The primary exclusivity key (the first one declared); the live-lock index below keeps it to one live saga. */
    lockKey: text('lock_key'),
    /** The saga's further exclusivity keys, beyond lock_key; null when it has one or none. Held in Redis only. */
    extraLockKeys: text('extra_lock_keys').array(),
    currentStep: integer('current_step').notNull().default(0),
    currentPhase: text('current_phase').notNull().default('action'),
    dispatchSeq: integer('dispatch_seq').notNull().default(1),
    leaseOwner: text('lease_owner'),
    leaseUntil: ts('lease_until'),
    deadlineAt: ts('deadline_at').notNull(),
    cancelRequestedAt: ts('cancel_requested_at'),
    cancelReason: text('cancel_reason'),
    failure: jsonb('failure'),
    progress: jsonb('progress'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
    finishedAt: ts('finished_at'),
    /** When retention removed the steps and events of this ended saga (kept: only the row of a completed saga). */
    historyPrunedAt: ts('history_pruned_at'),
  },
  (t) => [
    uniqueIndex('saga_instances_idempotency_key').on(t.idempotencyKey),
    // The durable half of exclusivity: at most one live saga per lock key, even if Redis lost its lock.
    uniqueIndex('saga_instances_live_lock').on(t.lockKey).where(sql`status in ('running', 'compensating')`),
    index('saga_instances_status').on(t.status, t.updatedAt),
    // Retention walks ended sagas not yet pruned, oldest end first; sagas already pruned drop out of this index.
    index('saga_instances_prunable')
      .on(t.finishedAt, t.id)
      .where(sql`history_pruned_at is null and status in ('completed', 'compensated', 'compensation_failed', 'failed')`),
  ],
);

/** One row per step of a saga: attempts, output, errors. */
export const sagaSteps = pgTable(
  'saga_steps',
  {
    sagaId: uuid('saga_id').notNull().references(() => sagaInstances.id, { onDelete: 'cascade' }),
    stepIndex: integer('step_index').notNull(),
    name: text('name').notNull(),
    status: text('status').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    compensationAttempts: integer('compensation_attempts').notNull().default(0),
    output: jsonb('output'),
    error: text('error'),
    compensationError: text('compensation_error'),
    startedAt: ts('started_at'),
    finishedAt: ts('finished_at'),
  },
  (t) => [primaryKey({ columns: [t.sagaId, t.stepIndex] })],
);

/** Append-only audit of everything that happened to a saga. */
export const sagaEvents = pgTable(
  'saga_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    sagaId: uuid('saga_id').notNull(),
    type: text('type').notNull(),
    step: text('step'),
    phase: text('phase'),
    attempt: integer('attempt'),
    fromState: text('from_state'),
    toState: text('to_state'),
    data: jsonb('data'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [index('saga_events_saga').on(t.sagaId, t.id)],
);

/** Jobs to enqueue, committed with the transition that decided them. */
export const sagaOutbox = pgTable(
  'saga_outbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    sagaId: uuid('saga_id').notNull(),
    queue: text('queue').notNull(),
    jobId: text('job_id').notNull(),
    payload: jsonb('payload').notNull(),
    availableAt: ts('available_at').notNull().defaultNow(),
    createdAt: ts('created_at').notNull().defaultNow(),
    dispatchedAt: ts('dispatched_at'),
  },
  (t) => [
    uniqueIndex('saga_outbox_job_id').on(t.jobId),
    index('saga_outbox_pending').on(t.createdAt).where(sql`dispatched_at is null`),
    // Retention deletes delivered rows in id order, a batch at a time.
    index('saga_outbox_delivered').on(t.id).where(sql`dispatched_at is not null`),
    // ...and the rows of a saga whose history it prunes.
    index('saga_outbox_saga').on(t.sagaId),
  ],
);

/** What a compensation could not undo; the janitor retries each until it is gone. */
export const failedCleanups = pgTable(
  'failed_cleanups',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    sagaId: uuid('saga_id').notNull(),
    step: text('step').notNull(),
    store: text('store').notNull(),
    key: text('key').notNull(),
    details: jsonb('details'),
    error: text('error').notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: ts('next_attempt_at').notNull().defaultNow(),
    lastError: text('last_error'),
    resolvedAt: ts('resolved_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('failed_cleanups_leftover').on(t.sagaId, t.store, t.key), index('failed_cleanups_due').on(t.nextAttemptAt).where(sql`resolved_at is null`)],
);

/** Alerts raised for operators (a failed rollback); also logged at fatal level. */
export const sagaAlerts = pgTable('saga_alerts', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  sagaId: uuid('saga_id'),
  severity: text('severity').notNull(),
  type: text('type').notNull(),
  message: text('message').notNull(),
  data: jsonb('data'),
  createdAt: ts('created_at').notNull().defaultNow(),
});

/** Jobs that could not be processed at all (malformed, unknown saga), set aside with the reason. */
export const sagaDeadLetters = pgTable('saga_dead_letters', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  queue: text('queue').notNull(),
  jobId: text('job_id'),
  data: jsonb('data'),
  reason: text('reason').notNull(),
  createdAt: ts('created_at').notNull().defaultNow(),
});

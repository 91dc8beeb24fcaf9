// The success path of a step in one statement: fenced by the dispatch sequence, it records the step's outcome, moves
// the saga on, appends the transition's events, marks the job's own outbox row delivered and writes the next job's
// outbox row. Autocommit: one statement is one transaction. When the fence fails (a newer dispatch, a cancellation,
// a state someone else changed) nothing is written and the caller takes the general, locking path.
import type { Sql } from 'postgres';
import { jobIdOf, queueName, type JobPayload } from './queues.ts';
import { isTerminal, pathToStepState, statusOf, type SagaState } from './state-machine.ts';
import { stagesOf } from './transitions.ts';
import type { JsonValue, SagaDefinition } from './types.ts';

/** One event row of the transition, in the order it happened. */
interface EventRow {
  type: string;
  step: string | null;
  phase: string | null;
  attempt: number | null;
  from_state: string | null;
  to_state: string | null;
  data: unknown;
  at: string | null;
}

/** What the step did and where it ran from. */
export interface SuccessInput {
  def: SagaDefinition;
  sagaId: string;
  seq: number;
  index: number;
  attempt: number;
  /** The saga's state when the step was picked up (the fence checks it is still that). */
  fromState: string;
  output: JsonValue | null;
  startedAt: Date;
  workerId: string;
  jobId: string | undefined;
  /**
   * The next step runs in this process right away instead of through its queue: its attempt is counted and its row
   * marked running in this statement, so that a crash during it still counts, and a cancellation waits for it.
   */
  runNextHere: boolean;
}

/** The job to enqueue next (none when the saga completed), and the saga's state after the step. */
export interface SuccessResult {
  next: { queue: string; jobId: string; payload: JobPayload } | null;
  state: SagaState;
  ended: boolean;
}

/**
 * The states the step and its successor put the saga through; throws IllegalTransitionError like the locking path
 * would, before anything runs.
 */
export function plannedStates(def: SagaDefinition, index: number, fromState: string, sagaId: string): { during: SagaState[]; after: SagaState[] } {
  const step = def.steps[index]!;
  const stages = stagesOf(def);
  const during = isTerminal(fromState) ? [] : pathToStepState(stages, fromState, step.state ?? 'processing', sagaId);
  const current = during.at(-1) ?? fromState;
  const next = def.steps[index + 1];
  const after = next ? pathToStepState(stages, current, next.state ?? 'processing', sagaId) : pathToStepState(stages, current, 'completed', sagaId);
  return { during, after };
}

/** Commits the success; null when the fence failed and nothing was written. */
export async function commitSuccess(sql: Sql, c: SuccessInput): Promise<SuccessResult | null> {
  const { def, index } = c;
  const step = def.steps[index]!;
  const { during, after } = plannedStates(def, index, c.fromState, c.sagaId);
  const events: EventRow[] = [];
  const hop = (from: string, to: string, at: string | null): EventRow => ({ type: 'state_changed', step: null, phase: null, attempt: null, from_state: from, to_state: to, data: null, at });
  let state = c.fromState;
  const startedIso = c.startedAt.toISOString();
  for (const to of during) {
    events.push(hop(state, to, startedIso));
    state = to;
  }
  events.push({ type: 'step_started', step: step.name, phase: 'action', attempt: c.attempt, from_state: null, to_state: null, data: { worker: c.workerId, jobId: c.jobId ?? null }, at: startedIso });
  events.push({ type: 'step_succeeded', step: step.name, phase: 'action', attempt: c.attempt, from_state: null, to_state: null, data: null, at: null });
  for (const to of after) {
    events.push(hop(state, to, null));
    state = to;
  }
  const nextDef = def.steps[index + 1];
  const ended = !nextDef;
  if (ended) events.push({ type: 'saga_completed', step: null, phase: null, attempt: null, from_state: null, to_state: null, data: null, at: null });
  const finalState = state as SagaState;
  const nextSeq = ended ? c.seq : c.seq + 1;
  const nextStep = ended ? index : index + 1;
  const next = nextDef
    ? { queue: queueName(def.name, nextDef.name, 'action'), jobId: jobIdOf(c.sagaId, nextSeq), payload: { sagaId: c.sagaId, seq: nextSeq, step: index + 1, phase: 'action' as const } }
    : null;
  const rows = await sql<{ id: string }[]>`
    with fence as (
      update saga_instances
         set state = ${finalState}, status = ${statusOf(finalState)}, current_step = ${nextStep}, current_phase = 'action',
             dispatch_seq = ${nextSeq}, lease_owner = null, lease_until = null, updated_at = now(),
             finished_at = case when ${ended}::boolean then now() else finished_at end
       where id = ${c.sagaId} and dispatch_seq = ${c.seq} and status = 'running' and state = ${c.fromState}
         and current_phase = 'action' and cancel_requested_at is null
      returning id
    ), step as (
      update saga_steps
         set status = 'succeeded', attempts = ${c.attempt}, output = ${c.output === null ? null : JSON.stringify(c.output)}::jsonb,
             error = null, started_at = ${startedIso}::timestamptz, finished_at = now()
        from fence
       where saga_steps.saga_id = fence.id and saga_steps.step_index = ${index}
    ), events as (
      insert into saga_events (saga_id, type, step, phase, attempt, from_state, to_state, data, created_at)
      select fence.id, e.type, e.step, e.phase, e.attempt, e.from_state, e.to_state, e.data, coalesce(e.at, now())
        from fence, jsonb_to_recordset(${JSON.stringify(events.map((e, n) => ({ ...e, n })))}::jsonb)
             as e(type text, step text, phase text, attempt int, from_state text, to_state text, data jsonb, at timestamptz, n int)
       order by e.n
    ), delivered as (
      update saga_outbox set dispatched_at = now()
       where job_id = ${jobIdOf(c.sagaId, c.seq)} and dispatched_at is null and exists (select 1 from fence)
    ), running as (
      update saga_steps set status = 'running', attempts = saga_steps.attempts + 1, started_at = now()
        from fence
       where ${c.runNextHere && next !== null}::boolean and saga_steps.saga_id = fence.id and saga_steps.step_index = ${index + 1}
    ), outbox as (
      insert into saga_outbox (saga_id, queue, job_id, payload)
      select fence.id, ${next?.queue ?? ''}, ${next?.jobId ?? ''}, ${next ? JSON.stringify(next.payload) : null}::jsonb
        from fence where ${next !== null}::boolean
    )
    select id from fence`;
  if (rows.length === 0) return null;
  return { next, state: finalState, ended };
}

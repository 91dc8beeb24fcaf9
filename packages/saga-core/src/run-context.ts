// What a worker needs to run a step without claiming it first: the saga's input, the outputs committed before the
// step, its deadline and state. Kept per worker process for the job this process just dispatched, so that on the
// success path a step costs no read at all; a miss (another process dispatched the job) costs one SELECT.
import type { Sql } from 'postgres';
import { storedLockKeys } from './lock-keys.ts';
import type { JsonValue } from './types.ts';

/** The saga as a step about to run sees it. Input and committed outputs never change, so a copy stays valid. */
export interface RunContext {
  sagaName: string;
  state: string;
  input: JsonValue;
  outputs: Record<string, JsonValue | undefined>;
  deadlineAt: Date;
  /** The saga's exclusivity keys, primary first. */
  lockKeys: readonly string[];
  /** Attempts of this step already committed (crashed ones are added from the job's own start count). */
  attempts: number;
}

/** A per-process map of (sagaId, seq) to the context of that dispatch, bounded in size. */
export interface RunContextCache {
  put(sagaId: string, seq: number, ctx: RunContext): void;
  /** Takes the entry out: a second delivery of the same job in this process reads PostgreSQL instead. */
  take(sagaId: string, seq: number): RunContext | undefined;
  readonly size: number;
}

/** Builds an empty cache holding at most `max` entries (oldest dropped first: a miss only costs a read). */
export function createRunContextCache(max = 10_000): RunContextCache {
  const entries = new Map<string, RunContext>();
  return {
    put(sagaId, seq, ctx) {
      entries.set(`${sagaId}/${seq}`, ctx);
      if (entries.size > max) {
        const oldest = entries.keys().next();
        if (!oldest.done) entries.delete(oldest.value);
      }
    },
    take(sagaId, seq) {
      const key = `${sagaId}/${seq}`;
      const ctx = entries.get(key);
      if (ctx) entries.delete(key);
      return ctx;
    },
    get size() {
      return entries.size;
    },
  };
}

/** The saga row as one statement reads it when the cache has no entry. */
export interface StoredSaga {
  name: string;
  state: string;
  status: string;
  input: JsonValue;
  deadlineAt: Date;
  /** The saga's exclusivity keys, primary first. */
  lockKeys: string[];
  dispatchSeq: number;
  currentPhase: string;
  cancelRequested: boolean;
  leaseLive: boolean;
  /** Per step index: status, attempts, output. */
  steps: { status: string; attempts: number; output: JsonValue | null }[];
}

/** Reads the saga and its steps in one statement; null when it does not exist. */
export async function readStoredSaga(sql: Sql, sagaId: string): Promise<StoredSaga | null> {
  const rows = await sql<
    {
      name: string;
      state: string;
      status: string;
      input: JsonValue;
      // drizzle turns off postgres-js' timestamp parsing on the shared client: a string here.
      deadline_at: string | Date;
      lock_key: string | null;
      extra_lock_keys: string[] | null;
      dispatch_seq: number;
      current_phase: string;
      cancel_requested: boolean;
      lease_live: boolean;
      steps: [string, number, JsonValue | null][];
    }[]
  >`select s.name, s.state, s.status, s.input, s.deadline_at, s.lock_key, s.extra_lock_keys, s.dispatch_seq, s.current_phase,
           s.cancel_requested_at is not null as cancel_requested,
           coalesce(s.lease_until > now(), false) as lease_live,
           coalesce((select jsonb_agg(jsonb_build_array(st.status, st.attempts, st.output) order by st.step_index)
                     from saga_steps st where st.saga_id = s.id), '[]'::jsonb) as steps
    from saga_instances s where s.id = ${sagaId}`;
  const r = rows[0];
  if (!r) return null;
  return {
    name: r.name,
    state: r.state,
    status: r.status,
    input: r.input,
    deadlineAt: new Date(r.deadline_at),
    lockKeys: storedLockKeys({ lockKey: r.lock_key, extraLockKeys: r.extra_lock_keys }),
    dispatchSeq: r.dispatch_seq,
    currentPhase: r.current_phase,
    cancelRequested: r.cancel_requested,
    leaseLive: r.lease_live,
    steps: r.steps.map(([status, attempts, output]) => ({ status, attempts, output })),
  };
}

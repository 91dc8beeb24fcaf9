// Runs one step action or compensation outside any transaction, with abort on cancellation, deadline, step timeout,
// lost lease (or a newer dispatch) or worker shutdown. A claimed phase holds a lease kept alive by heartbeats; an
// unclaimed one (the success path of a short step) writes nothing unless it outlives a heartbeat interval, and then
// only proves it is alive and looks for a cancellation, fenced by its dispatch number.
import { and, eq, sql as dsql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { EngineCore } from './core.ts';
import { sagaInstances } from './schema.ts';
import type { JobPayload } from './queues.ts';
import { isRollbackRequired, toError } from './errors.ts';
import { ensureLocks } from './exclusivity.ts';
import type { JsonObject, JsonValue, StepContext, StepDefinition } from './types.ts';

/** Why a running phase was aborted. */
export type AbortCause = 'CANCELLED' | 'TIMEOUT' | 'STEP_TIMEOUT' | 'SHUTDOWN' | 'LEASE_LOST';

/** How a phase ended. */
export type PhaseOutcome =
  | { kind: 'ok'; output: JsonValue | null }
  | { kind: 'error'; error: Error }
  | { kind: 'aborted'; cause: AbortCause; message: string };

/** What the runner needs to know of the saga. */
export interface PhaseInput {
  payload: JobPayload;
  sagaName: string;
  step: StepDefinition;
  attempt: number;
  input: JsonValue;
  outputs: Record<string, JsonValue | undefined>;
  deadlineAt: Date;
  log: Logger;
  /** The saga's exclusivity keys: re-checked before an action runs. */
  lockKeys: readonly string[];
  /** The chain running this action verified the lock moments ago (see LOCK_RECHECK_MS): not checked again. */
  lockChecked: boolean;
  /** True when the phase was claimed with a lease (renewed by heartbeats); false: fenced by dispatch number only. */
  leased: boolean;
}

const MAX_TIMER = 2_147_000_000;

/** Runs the phase and reports its outcome; never throws. */
export async function runPhase(core: EngineCore, p: PhaseInput): Promise<PhaseOutcome> {
  const { payload, step } = p;
  const controller = new AbortController();
  let cause: AbortCause | undefined;
  let causeMessage = '';
  const abort = (c: AbortCause, message: string) => {
    if (controller.signal.aborted) return;
    cause = c;
    causeMessage = message;
    controller.abort(Object.assign(new Error(message), { name: 'AbortError', code: c }));
  };
  const timers: NodeJS.Timeout[] = [];
  const isAction = payload.phase === 'action';
  const lease = core.timings.leaseMs;

  // Progress is written at most once an interval, counted from the start, and the latest report of an interval is
  // written at its end: a step that ends within its first interval (a small document's whole upload) writes none, and
  // a step that stalls after a burst of reports (a held PUT) still shows where it stands.
  let lastProgressAt = Date.now();
  let pendingProgress: JsonObject | undefined;
  let trailingWrite: NodeJS.Timeout | undefined;
  const writeProgress = async (progress: JsonObject): Promise<void> => {
    lastProgressAt = Date.now();
    pendingProgress = undefined;
    if (trailingWrite) clearTimeout(trailingWrite);
    trailingWrite = undefined;
    await renew(progress);
  };
  const renew = async (progress?: JsonObject): Promise<void> => {
    const set: Partial<typeof sagaInstances.$inferInsert> = {
      // SQL expression: the lease is measured on the database clock, like every other lease check.
      leaseUntil: dsql`now() + make_interval(secs => ${lease / 1000})` as unknown as Date,
      updatedAt: new Date(),
    };
    if (progress) set.progress = progress;
    if (!p.leased) delete set.leaseUntil;
    const owner = p.leased ? eq(sagaInstances.leaseOwner, core.workerId) : undefined;
    const rows = await core.db
      .update(sagaInstances)
      .set(set)
      .where(and(eq(sagaInstances.id, payload.sagaId), owner, eq(sagaInstances.dispatchSeq, payload.seq)))
      .returning({ cancelRequestedAt: sagaInstances.cancelRequestedAt, cancelReason: sagaInstances.cancelReason });
    const row = rows[0];
    if (!row) abort('LEASE_LOST', 'another worker took over this step (lease lost)');
    else if (isAction && row.cancelRequestedAt) {
      const timeout = row.cancelReason === 'TIMEOUT';
      abort(timeout ? 'TIMEOUT' : 'CANCELLED', timeout ? 'saga deadline passed' : 'saga cancelled');
    }
  };
  // Unleased, the heartbeat also keeps the outbox relay (which waits for a saga idle 5 s) from adding this job again.
  const heartbeat = setInterval(() => {
    renew().catch((err: unknown) => p.log.warn({ err }, 'lease heartbeat failed'));
  }, Math.max(200, Math.floor(p.leased ? lease / 3 : Math.min(lease / 3, 2000))));
  timers.push(heartbeat);
  if (isAction) {
    const untilDeadline = p.deadlineAt.getTime() - Date.now();
    timers.push(setTimeout(() => abort('TIMEOUT', 'saga deadline passed'), Math.min(MAX_TIMER, Math.max(0, untilDeadline))));
  }
  const timeoutMs = step.timeoutMs ?? 300_000;
  timers.push(setTimeout(() => abort('STEP_TIMEOUT', `step "${step.name}" did not finish within ${timeoutMs} ms`), Math.min(MAX_TIMER, timeoutMs)));
  const onShutdown = () => abort('SHUTDOWN', 'worker is shutting down');
  if (core.shutdown.signal.aborted) onShutdown();
  core.shutdown.signal.addEventListener('abort', onShutdown);

  const ctx: StepContext = {
    sagaId: payload.sagaId,
    sagaName: p.sagaName,
    step: step.name,
    phase: payload.phase,
    attempt: p.attempt,
    input: p.input,
    outputs: p.outputs,
    signal: controller.signal,
    deadlineAt: p.deadlineAt,
    log: p.log,
    async releaseExclusivity() {
      await core.locks.release(p.lockKeys, payload.sagaId);
    },
    async reportProgress(progress) {
      const wait = lastProgressAt + core.timings.progressIntervalMs - Date.now();
      if (wait <= 0) return writeProgress(progress);
      pendingProgress = progress;
      trailingWrite ??= setTimeout(() => {
        if (pendingProgress) writeProgress(pendingProgress).catch((err: unknown) => p.log.warn({ err }, 'progress write failed'));
      }, wait);
    },
  };

  const fn = isAction ? step.action : step.compensation;
  const work = (async () => {
    if (isAction && !p.lockChecked) await ensureLocks(core, p.lockKeys, payload.sagaId, p.deadlineAt);
    return fn ? ((await fn(ctx)) ?? null) : null;
  })();
  let abortWaiter: (() => void) | undefined;
  const aborted = new Promise<'aborted'>((resolve) => {
    abortWaiter = () => resolve('aborted');
    controller.signal.addEventListener('abort', abortWaiter);
  });
  try {
    const first = await Promise.race([work.then(() => 'done' as const, () => 'done' as const), aborted]);
    if (first === 'aborted') {
      // Let the handler notice the signal and stop before anyone else acts on this saga.
      const grace = new Promise<'grace'>((r) => timers.push(setTimeout(() => r('grace'), core.timings.abortGraceMs)));
      const settled = await Promise.race([work.then(() => 'done' as const, () => 'done' as const), grace]);
      if (settled === 'grace') {
        p.log.warn({ cause }, `step did not stop within ${core.timings.abortGraceMs} ms of being aborted`);
        work.catch(() => {});
        return { kind: 'aborted', cause: cause ?? 'STEP_TIMEOUT', message: causeMessage };
      }
    }
    try {
      const output = (await work) as JsonValue | null;
      return { kind: 'ok', output };
    } catch (err) {
      const error = toError(err);
      if (cause && !isRollbackRequired(error)) return { kind: 'aborted', cause, message: causeMessage };
      return { kind: 'error', error };
    }
  } finally {
    for (const t of timers) clearTimeout(t);
    clearInterval(heartbeat);
    if (trailingWrite) clearTimeout(trailingWrite);
    core.shutdown.signal.removeEventListener('abort', onShutdown);
    if (abortWaiter) controller.signal.removeEventListener('abort', abortWaiter);
  }
}

// Queue names, job ids and job payloads: a job carries identifiers only, never saga state.
import type { SagaDefinition } from './types.ts';

/** The phase a job acts in. */
export type Phase = 'action' | 'compensation';

/** What a job carries: which saga, which dispatch (seq), which step and phase. */
export interface JobPayload {
  sagaId: string;
  seq: number;
  step: number;
  phase: Phase;
}

/** Queue of one step's action or compensation. BullMQ forbids ':' in names, hence dots. */
export function queueName(sagaName: string, stepName: string, phase: Phase): string {
  return `${sagaName}.${stepName}.${phase === 'action' ? 'do' : 'undo'}`;
}

/** Every queue of a saga definition. */
export function queuesOf(def: SagaDefinition): string[] {
  const out: string[] = [];
  for (const step of def.steps) {
    out.push(queueName(def.name, step.name, 'action'));
    if (step.compensation) out.push(queueName(def.name, step.name, 'compensation'));
  }
  return out;
}

/** Deterministic job id: the same dispatch always has the same id, so a re-enqueue is deduplicated. */
export function jobIdOf(sagaId: string, seq: number): string {
  return `${sagaId}_${seq}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Parses job data; returns the payload or a reason it is malformed. */
export function parseJobPayload(data: unknown): { ok: true; payload: JobPayload } | { ok: false; reason: string } {
  if (!data || typeof data !== 'object' || Array.isArray(data)) return { ok: false, reason: 'job data is not an object' };
  const d = data as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof d.sagaId !== 'string' || !UUID.test(d.sagaId)) problems.push('sagaId must be a uuid');
  if (!Number.isInteger(d.seq) || (d.seq as number) < 1) problems.push('seq must be a positive integer');
  if (!Number.isInteger(d.step) || (d.step as number) < 0) problems.push('step must be a non-negative integer');
  if (d.phase !== 'action' && d.phase !== 'compensation') problems.push('phase must be action or compensation');
  if (problems.length > 0) return { ok: false, reason: `malformed job: ${problems.join(', ')}` };
  return { ok: true, payload: { sagaId: d.sagaId as string, seq: d.seq as number, step: d.step as number, phase: d.phase as Phase } };
}

/** The action queues whose step declares its own concurrency, with that bound. */
export function actionQueueBounds(defs: Iterable<SagaDefinition>): Map<string, number> {
  const out = new Map<string, number>();
  for (const def of defs) {
    for (const step of def.steps) if (step.concurrency !== undefined) out.set(queueName(def.name, step.name, 'action'), step.concurrency);
  }
  return out;
}

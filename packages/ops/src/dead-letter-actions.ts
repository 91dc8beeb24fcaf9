// Operator actions on dead letters: put the job back on its queue, or discard it.
import type { Sql } from 'postgres';
import { OpsError, OpsNotFoundError } from './errors.ts';
import { deleteDeadLetter, listDeadLetters } from './fleet-state.ts';
import type { QueueDepthReader } from './queue-depths.ts';

/** The dead letter's queue is not one this fleet consumes (HTTP 409). */
export class UnknownQueueError extends OpsError {
  constructor(queue: string) {
    super('UNKNOWN_QUEUE', `queue ${queue} is not one of this fleet's queues; discard the dead letter instead`);
  }
}

/**
 * Enqueues the job again (a new job id, so BullMQ does not drop it as a duplicate of the failed one), then deletes
 * the row: a crash in between leaves the row, and a second requeue adds a duplicate job, which the engine ignores
 * (a job whose seq is not the saga's current one does nothing).
 */
export async function requeueDeadLetter(sql: Sql, queues: QueueDepthReader, id: number): Promise<{ id: number; queue: string; jobId: string }> {
  const [dl] = await listDeadLetters(sql, { limit: 1, before: id + 1 });
  if (!dl || dl.id !== id) throw new OpsNotFoundError('DEAD_LETTER_NOT_FOUND', String(id));
  const jobId = `requeued-${id}-${Date.now()}`;
  if (!(await queues.enqueue(dl.queue, dl.data, jobId))) throw new UnknownQueueError(dl.queue);
  await deleteDeadLetter(sql, id);
  return { id, queue: dl.queue, jobId };
}

/** Deletes the dead letter for good. */
export async function discardDeadLetter(sql: Sql, id: number): Promise<void> {
  if (!(await deleteDeadLetter(sql, id))) throw new OpsNotFoundError('DEAD_LETTER_NOT_FOUND', String(id));
}

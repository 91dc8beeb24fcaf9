// Delivers outbox rows to BullMQ after their transaction committed, and re-delivers what a crash left behind.
import { Queue, type ConnectionOptions } from 'bullmq';
import { and, asc, eq, inArray, isNull, lt, sql as dsql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db, DbOrTx, OutboxRow } from './db.ts';
import { sagaInstances, sagaOutbox } from './schema.ts';

/** Outbox delivery. */
export interface Dispatcher {
  /** Enqueues rows just committed; failures are left to the relay. */
  dispatch(rows: OutboxRow[]): Promise<void>;
  /**
   * Enqueues a job whose outbox row was just committed, without marking the row: the job's own commit marks it
   * (deterministic job ids make the relay's repeated add of a row not yet marked harmless). Failures are left to the relay.
   */
  enqueue(job: { queue: string; jobId: string; payload: unknown; sagaId: string }): Promise<void>;
  /** Enqueues rows committed more than `olderThanMs` ago and never delivered; returns how many. */
  relay(olderThanMs: number): Promise<number>;
  queue(name: string): Queue;
  close(): Promise<void>;
}

/** Builds a dispatcher with one Queue per queue name, created on first use. */
export function createDispatcher(db: Db, connection: ConnectionOptions, prefix: string, logger: Logger): Dispatcher {
  const queues = new Map<string, Queue>();
  const queue = (name: string): Queue => {
    let q = queues.get(name);
    if (!q) {
      q = new Queue(name, { connection, prefix });
      q.on('error', (err) => logger.warn({ err, queue: name }, 'queue connection error'));
      queues.set(name, q);
    }
    return q;
  };

  const add = (name: string, payload: unknown, jobId: string, delayMs: number) =>
    queue(name).add('step', payload, {
      jobId,
      delay: Math.max(0, delayMs),
      removeOnComplete: true,
      // Kept for inspection; recovery re-dispatches under a new job id, so a kept id never blocks it.
      removeOnFail: { count: 1000 },
      // Only plumbing failures (database down mid-handler) reach BullMQ's retry; step retries are the engine's.
      attempts: 5,
      backoff: { type: 'exponential', delay: 1000 },
    });

  async function deliver(row: OutboxRow, exec: DbOrTx): Promise<boolean> {
    try {
      await add(row.queue, row.payload, row.jobId, row.availableAt.getTime() - Date.now());
      await exec.update(sagaOutbox).set({ dispatchedAt: new Date() }).where(eq(sagaOutbox.id, row.id));
      return true;
    } catch (err) {
      logger.warn({ err, sagaId: row.sagaId, jobId: row.jobId }, 'enqueue failed; the outbox relay will retry');
      return false;
    }
  }

  return {
    queue,
    async dispatch(rows) {
      for (const row of rows) await deliver(row, db);
    },
    async enqueue(job) {
      try {
        await add(job.queue, job.payload, job.jobId, 0);
      } catch (err) {
        logger.warn({ err, sagaId: job.sagaId, jobId: job.jobId }, 'enqueue failed; the outbox relay will retry');
      }
    },
    async relay(olderThanMs) {
      let delivered = 0;
      for (;;) {
        const rows = await db.transaction(async (tx) => {
          const due = await tx
            .select()
            .from(sagaOutbox)
            .where(
              and(
                isNull(sagaOutbox.dispatchedAt),
                lt(sagaOutbox.createdAt, dsql`now() - make_interval(secs => ${olderThanMs / 1000})`),
                // A saga touched lately is being worked on (a step running in the process that committed the row
                // proves it with heartbeats): its row is not lost, only not enqueued.
                dsql`not exists (select 1 from saga_instances s where s.id = ${sagaOutbox.sagaId} and s.updated_at > now() - make_interval(secs => ${olderThanMs / 1000}))`,
              ),
            )
            .orderBy(asc(sagaOutbox.id))
            .limit(100)
            .for('update', { skipLocked: true });
          // A row whose saga has moved on (a newer dispatch, or ended) names a job that would only be a stale no-op.
          const sagaIds = [...new Set(due.map((r) => r.sagaId))];
          const current = new Map<string, number>();
          if (sagaIds.length > 0) {
            const sagas = await tx
              .select({ id: sagaInstances.id, seq: sagaInstances.dispatchSeq })
              .from(sagaInstances)
              .where(and(inArray(sagaInstances.id, sagaIds), inArray(sagaInstances.status, ['running', 'compensating'])));
            for (const x of sagas) current.set(x.id, x.seq);
          }
          const superseded = due.filter((r) => current.get(r.sagaId) !== (r.payload as { seq?: unknown }).seq).map((r) => r.id);
          if (superseded.length > 0) await tx.update(sagaOutbox).set({ dispatchedAt: new Date() }).where(inArray(sagaOutbox.id, superseded));
          for (const row of due) if (!superseded.includes(row.id) && (await deliver(row, tx))) delivered++;
          return due;
        });
        if (rows.length < 100) break;
      }
      if (delivered > 0) logger.info({ delivered }, 'outbox relay re-enqueued undelivered transitions');
      return delivered;
    },
    async close() {
      await Promise.all([...queues.values()].map((q) => q.close()));
      queues.clear();
    },
  };
}

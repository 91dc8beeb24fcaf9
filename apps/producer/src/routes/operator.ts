// Operator API: saga search, leftovers (list, retry now), dead letters (list, requeue, discard), queue depths.
// Scopes (for the named-token change): GET routes need `read`; the POST actions need `operate`.
import type { FastifyInstance } from 'fastify';
import { INGEST_SAGA, INGEST_STEPS, type IngestRuntime } from '@ingest/ingest';
import {
  discardDeadLetter,
  encodeCursor,
  findCleanup,
  InvalidQueryError,
  listCleanups,
  listDeadLetters,
  OpsError,
  OpsNotFoundError,
  parseSagaFilter,
  readFleetCounts,
  readLastHour,
  requeueDeadLetter,
  searchSagas,
  type OpsContext,
} from '@ingest/ops';

/** A leftover is being retried by another process right now (HTTP 409). */
class CleanupBusyError extends OpsError {
  constructor(id: number) {
    super('CLEANUP_BUSY', `leftover ${id} is being retried by another process; try again in a moment`);
  }
}

/** A `limit` and an id cursor (`before`) for the id-ordered lists. */
function idPage(query: { limit?: string; before?: string }): { limit: number; before?: number } {
  const limit = query.limit === undefined ? 50 : Number(query.limit);
  const before = query.before === undefined ? undefined : Number(query.before);
  const problems: { field: string; message: string }[] = [];
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) problems.push({ field: 'limit', message: 'must be a whole number from 1 to 500' });
  if (before !== undefined && (!Number.isInteger(before) || before < 1)) problems.push({ field: 'before', message: 'must be an id from a previous page' });
  if (problems.length > 0) throw new InvalidQueryError(problems);
  return before === undefined ? { limit } : { limit, before };
}

function idParam(raw: string, what: 'CLEANUP_NOT_FOUND' | 'DEAD_LETTER_NOT_FOUND'): number {
  const id = Number(raw);
  if (!Number.isSafeInteger(id) || id < 1) throw new OpsNotFoundError(what, raw);
  return id;
}

/** Registers the operator routes on `app`. */
/** Reading fleet state needs `read`; the actions (retry, requeue, discard) need `operate`, the default. */
const READ = { config: { scope: 'read' as const } };

export function registerOperatorRoutes(app: FastifyInstance, runtime: IngestRuntime, ops: OpsContext): void {
  const search = { stuckAfterSeconds: runtime.config.STUCK_AFTER_SECONDS, stepsBySaga: { [INGEST_SAGA]: INGEST_STEPS } };

  app.get<{ Querystring: Record<string, unknown> }>('/v1/sagas', READ, async (request) => {
    const page = await searchSagas(ops.sql, parseSagaFilter(request.query), search);
    return { sagas: page.sagas, nextCursor: page.nextCursor === null ? null : encodeCursor(page.nextCursor) };
  });

  app.get<{ Querystring: { state?: string; limit?: string; before?: string } }>('/v1/cleanups', READ, async (request) => {
    const state = request.query.state ?? 'open';
    if (state !== 'open' && state !== 'resolved') throw new InvalidQueryError([{ field: 'state', message: 'must be open or resolved' }]);
    const page = idPage(request.query);
    const cleanups = await listCleanups(ops.sql, { state, ...page });
    return { cleanups, nextBefore: cleanups.length === page.limit ? (cleanups.at(-1)?.id ?? null) : null };
  });

  app.post<{ Params: { id: string } }>('/v1/cleanups/:id/retry', async (request) => {
    const id = idParam(request.params.id, 'CLEANUP_NOT_FOUND');
    const before = await findCleanup(ops.sql, id);
    if (!before) throw new OpsNotFoundError('CLEANUP_NOT_FOUND', String(id));
    if (before.resolvedAt !== null) return { cleanup: before, resolved: true };
    const r = await runtime.retryCleanup(id);
    if (!r.attempted) {
      // Another process had it claimed: it may have removed it meanwhile.
      const now = await findCleanup(ops.sql, id);
      if (now && now.resolvedAt !== null) return { cleanup: now, resolved: true };
      throw new CleanupBusyError(id);
    }
    return { cleanup: await findCleanup(ops.sql, id), resolved: r.resolved };
  });

  app.get<{ Querystring: { limit?: string; before?: string } }>('/v1/dead-letters', READ, async (request) => {
    const page = idPage(request.query);
    const deadLetters = await listDeadLetters(ops.sql, page);
    return { deadLetters, nextBefore: deadLetters.length === page.limit ? (deadLetters.at(-1)?.id ?? null) : null };
  });

  app.post<{ Params: { id: string } }>('/v1/dead-letters/:id/requeue', async (request, reply) => {
    const r = await requeueDeadLetter(ops.sql, ops.queueDepths, idParam(request.params.id, 'DEAD_LETTER_NOT_FOUND'));
    return reply.code(202).send(r);
  });

  app.post<{ Params: { id: string } }>('/v1/dead-letters/:id/discard', async (request) => {
    const id = idParam(request.params.id, 'DEAD_LETTER_NOT_FOUND');
    await discardDeadLetter(ops.sql, id);
    return { id, discarded: true };
  });

  app.get('/v1/queues', READ, async () => ({ queues: await ops.queueDepths.read() }));

  // The console's overview in one call: counts by status, the last hour's throughput, stuck sagas, leftovers, queues.
  app.get('/v1/overview', READ, async () => {
    const [stats, lastHour, counts, queues] = await Promise.all([runtime.stats(), readLastHour(ops.sql), readFleetCounts(ops.sql, runtime.config.STUCK_AFTER_SECONDS), ops.queueDepths.read()]);
    return { stats, lastHour, stuckSagas: counts.stuckSagas, openLeftovers: counts.openLeftovers, janitorLastPassAt: counts.janitorLastPassSeconds === null ? null : new Date(counts.janitorLastPassSeconds * 1000).toISOString(), queues };
  });
}

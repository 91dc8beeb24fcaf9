// The document-deletion saga: removes every version's data from every store and the bucket, rolling forward.
// Deletion cannot be half-undone, so nothing is put back: the removal step retries, and when it gives up its
// compensation removes what it still can and records the rest as leftovers (the ingest registry's stores), which
// the janitor finishes; the document ends `deleted` either way. The same saga retires a replaced version.
import { CompensationFailed, SagaRollbackRequired, defineSaga, type Leftover, type SagaDefinition, type SagaStep, type StageMachine, type StepContext, type StoreRegistry } from '@ingest/saga-core';
import type { IngestConfig } from './config.ts';
import type { DocumentVersions } from './document-versions.ts';
import type { IngestStore } from './leftover-stores.ts';
import type { DownstreamStores } from './stores.ts';

/** Name of the saga in queues and tables. */
export const DELETE_SAGA = 'delete-document';

/** The saga's steps, in order. */
export const DELETE_STEPS = ['mark_deleting', 'remove_data', 'mark_deleted'] as const;

/** One version whose data the saga removes. */
export type VersionToRemove = {
  versionId: string;
  operationId: string | null;
};

/** What a deletion saga carries: `delete` removes a whole document, `retire` one replaced version of it. */
export type DeleteInput = {
  mode: 'delete' | 'retire';
  /** The stable document id. */
  documentId: string;
  versions: VersionToRemove[];
  lockKey: string;
  /**
   * The source file's key of the document's ingestion (`file:<real path>`), held too while a delete runs: no
   * ingestion of that file starts meanwhile. Absent when none is known (and in a retire).
   */
  fileKey?: string;
  requestedBy: string;
  requestedAt: string;
};

/** What each step records. */
export type DeleteOutputs = {
  /** What the saga removes: the input's versions plus any the document's history names that are not removed yet. */
  mark_deleting: { versions: VersionToRemove[] };
  remove_data: { removed: number };
  mark_deleted: { deletedAt: string };
};

/** Collaborators of the deletion saga. */
export interface DeleteSagaDeps {
  config: IngestConfig;
  stores: DownstreamStores;
  versions: DocumentVersions;
  /** The ingestion saga's registry: the same undo and existence check remove the data and finish its leftovers. */
  leftoverStores: StoreRegistry<IngestStore>;
  /** The bucket's key prefix of chunks (`chunks/`). */
  chunkPrefix: string;
}

/** The deletion saga's labels: `deleting` while it removes; a removal that gave up finishes through rolling_back. */
export const DELETE_STAGES: StageMachine = {
  allowed: {
    initialized: ['deleting', 'processing', 'rolling_back'],
    deleting: ['processing', 'completed', 'rolling_back'],
    processing: ['completed', 'rolling_back'],
    completed: [],
    rolling_back: ['rolled_back', 'rollback_failed'],
    rolled_back: [],
    rollback_failed: [],
  },
};

/** The exclusivity key a whole document's lifecycle sagas share (a delete, a replacement). */
export function documentLockKey(documentId: string): string {
  return `document:${documentId}`;
}

/** One thing the saga removes: a store and its key (a version id, or a chunk prefix). */
interface Target {
  store: IngestStore;
  key: string;
  details: { operationId: string } | null;
}

type Ctx = StepContext<DeleteInput, DeleteOutputs>;

/** Builds the deletion saga definition. */
export function deleteSaga(deps: DeleteSagaDeps): SagaDefinition<DeleteInput, DeleteOutputs, IngestStore> {
  const { config, versions, leftoverStores, stores } = deps;
  const storeRetry = { attempts: config.STORE_RETRY_ATTEMPTS, backoffMs: config.STORE_RETRY_BACKOFF_MS, backoff: 'exponential' as const, maxBackoffMs: 30_000 };
  const compensationRetry = { attempts: config.COMPENSATION_RETRY_ATTEMPTS, backoffMs: config.STORE_RETRY_BACKOFF_MS, backoff: 'exponential' as const, maxBackoffMs: 30_000 };
  // The versions fixed by mark_deleting (after the document is marked, no replacement can commit another).
  // (An output without the list, from a saga an older worker began, falls back to the input's.)
  const versionsOf = (ctx: Ctx): VersionToRemove[] => {
    const fixed = ctx.outputs.mark_deleting?.versions;
    return Array.isArray(fixed) ? fixed : ctx.input.versions;
  };
  const targetsOf = (ctx: Ctx): Target[] =>
    versionsOf(ctx).flatMap((v): Target[] => [
      // Metadata first, so a reader that still finds a version's row finds its bytes; chunks last.
      { store: 'relational', key: v.versionId, details: null },
      { store: 'vector', key: v.versionId, details: null },
      { store: 'graph', key: v.versionId, details: null },
      { store: 'security', key: v.versionId, details: null },
      ...(v.operationId ? [{ store: 's3-prefix' as const, key: `${deps.chunkPrefix}${v.operationId}/`, details: { operationId: v.operationId } }] : []),
    ]);
  const leftoverOf = (ctx: Ctx, t: Target) => ({ sagaId: ctx.sagaId, step: ctx.step, store: t.store, key: t.key, details: t.details });
  // Verified removal: undo through the registry, then look again; a target still there is not removed.
  const removeOne = async (ctx: Ctx, t: Target): Promise<string | null> => {
    try {
      await leftoverStores[t.store].undo(t.key, { ...leftoverOf(ctx, t), attempts: ctx.attempt, releaseExclusivity: async () => false });
      const left = await leftoverStores[t.store].exists(t.key, { ...leftoverOf(ctx, t), signal: ctx.signal });
      return left ? `${t.store} ${t.key} still present after its removal` : null;
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
  };
  const markEnded = async (ctx: Ctx) => {
    await versions.markRemoved(versionsOf(ctx).map((v) => v.versionId));
    if (ctx.input.mode === 'delete') await versions.markDeleted(ctx.input.documentId);
  };

  const steps: SagaStep<DeleteInput, DeleteOutputs>[] = [
    {
      name: 'mark_deleting',
      state: 'deleting',
      // Nothing is removed yet, so giving up here would leave a document marked deleting with all its data: try long.
      retry: { ...storeRetry, attempts: Math.max(10, config.STORE_RETRY_ATTEMPTS) },
      async action(ctx) {
        const { input } = ctx;
        if (input.mode === 'retire') {
          // Never remove the version readers are served: a replacement that was reverted made it current again.
          for (const v of input.versions) {
            const version = await versions.version(v.versionId);
            const head = version ? await versions.head(version.documentId) : undefined;
            if (head && head.status === 'active' && head.currentVersionId === v.versionId) {
              throw new SagaRollbackRequired('VERSION_IS_CURRENT', `version ${v.versionId} of document ${head.id} is current; it is not removed`);
            }
          }
        } else {
          // A document committed before heads existed gets its head here too (its only version is itself).
          const own = input.versions.find((v) => v.versionId === input.documentId);
          await versions.markDeleting(input.documentId, own ? { versionId: own.versionId, sagaId: null, operationId: own.operationId } : null, ctx.sagaId);
        }
        // Read after the mark: a replacement that committed between the request and now is removed too.
        const all = new Map(input.versions.map((v) => [v.versionId, v]));
        if (input.mode === 'delete') {
          for (const v of await versions.versionsOf(input.documentId)) {
            if (v.status !== 'removed' && !all.has(v.versionId)) all.set(v.versionId, { versionId: v.versionId, operationId: v.operationId });
          }
        }
        const targets = [...all.values()];
        await versions.markRemoving(
          targets.map((v) => v.versionId),
          ctx.sagaId,
        );
        return { versions: targets };
      },
      // Reached only after remove_data gave up and recorded its leftovers: the deletion is finished by the janitor.
      async compensation(ctx) {
        await markEnded(ctx);
      },
    },
    {
      name: 'remove_data',
      state: 'deleting',
      retry: storeRetry,
      timeoutMs: config.SAGA_TIMEOUT_SECONDS * 1000,
      compensateOnFailure: true,
      async action(ctx) {
        const targets = targetsOf(ctx);
        const problems: string[] = [];
        for (const t of targets) {
          if (ctx.signal.aborted) throw new Error('aborted');
          const problem = await removeOne(ctx, t);
          if (problem) problems.push(problem);
        }
        if (problems.length > 0) throw new Error(`${problems.length} of ${targets.length} removals failed: ${problems.slice(0, 3).join('; ')}`);
        return { removed: targets.length };
      },
      // The roll-forward's last try: whatever still cannot be removed becomes a recorded leftover.
      async compensation(ctx) {
        const leftovers: Leftover<IngestStore>[] = [];
        for (const t of targetsOf(ctx)) {
          const problem = await removeOne(ctx, t);
          if (problem) leftovers.push({ store: t.store, key: t.key, error: problem, ...(t.details ? { details: t.details } : {}) });
        }
        if (leftovers.length > 0) throw new CompensationFailed<IngestStore>(`${leftovers.length} removals left to the janitor`, leftovers);
      },
    },
    {
      name: 'mark_deleted',
      state: 'processing',
      retry: storeRetry,
      async action(ctx) {
        await markEnded(ctx);
        if (ctx.input.mode === 'delete') {
          await stores.security.audit(ctx.input.documentId, 'deleted', ctx.input.requestedBy, { sagaId: ctx.sagaId });
        }
        return { deletedAt: new Date().toISOString() };
      },
    },
  ];
  return defineSaga<DeleteInput, DeleteOutputs, IngestStore>({
    name: DELETE_SAGA,
    stores: leftoverStores,
    // Long: a deletion never rolls back, it only finishes; the deadline only bounds a stuck one.
    timeoutSeconds: config.SAGA_TIMEOUT_SECONDS,
    stages: DELETE_STAGES,
    // The document (or version) and, for a delete, the source file: the engine holds both for the saga's whole life.
    exclusivityKey: (input) => (input.fileKey ? [input.lockKey, input.fileKey] : input.lockKey),
    steps: steps.map((step) => (step.compensation ? { compensationRetry, ...step } : step)),
  });
}

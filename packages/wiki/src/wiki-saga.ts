// seeds/003's WikiGenerationSaga: save the generated files to the filesystem service, then snapshot them in the git
// service. A failed snapshot deletes exactly the files this saga created; files that existed before are spared,
// because the filesystem service remembers, per idempotency key, whether that save created the file.
import { createHash } from 'node:crypto';
import { CompensationFailed, defineSaga, type Leftover, type SagaDefinition, type SagaStep } from '@ingest/saga-core';
import { wikiStoreRegistry, type WikiStore } from './wiki-stores.ts';
import type { ServiceClient } from './service-client.ts';
import { wikiFiles } from './wiki-files.ts';
import type { WikiInput } from './wiki-input.ts';
import { WIKI_STAGES } from './wiki-stages.ts';

/** The saga's registered name. */
export const WIKI_SAGA = 'wiki-generation';
/** Its steps, in order. */
export const WIKI_STEPS = ['check_services', 'save_files', 'create_snapshot'] as const;

/** What save_files reports. */
export type SaveFilesOutput = { files_saved: number; files_created: number; created: string[] };
/** seeds/003's success shape: the saga's result. */
export type WikiResult = { status: 'success'; files_created: number; snapshot_id: string; message: string };
/** Outputs of the wiki saga's steps. */
export type WikiOutputs = { check_services: { ok: true }; save_files: SaveFilesOutput; create_snapshot: WikiResult };

/** What the saga needs: a client per service and its limits. */
export interface WikiSagaDeps {
  filesystem: ServiceClient;
  git: ServiceClient;
  /** Largest file read from a files directory. */
  maxFileBytes: number;
  /** Attempts of each step and compensation (connection errors, timeouts and 5xx are retried). Default 4. */
  attempts?: number;
  backoffMs?: number;
}

/** The idempotency key of one file's save: a retried or taken-over step saves each file once. */
export function saveKey(sagaId: string, filePath: string): string {
  return `${sagaId}:save_files:${createHash('sha256').update(filePath).digest('hex').slice(0, 32)}`;
}

/** The idempotency key of the snapshot. */
export function snapshotKey(sagaId: string): string {
  return `${sagaId}:create_snapshot`;
}

/** Builds the wiki saga's definition over the two services. */
export function wikiSaga(deps: WikiSagaDeps): SagaDefinition<WikiInput, WikiOutputs> {
  const policy = { attempts: deps.attempts ?? 4, backoffMs: deps.backoffMs ?? 500, backoff: 'exponential' as const, maxBackoffMs: 10_000 };
  const fileUrl = (projectId: string, filePath: string) => `/file/${encodeURIComponent(projectId)}/${filePath.split('/').map(encodeURIComponent).join('/')}`;

  // Both services must accept the token before anything is written: a wrong token then fails the saga with
  // UNAUTHORIZED and nothing to undo, instead of a rollback that cannot prove what it may delete.
  const checkServices: SagaStep<WikiInput, WikiOutputs> = {
    name: 'check_services',
    state: 'checking_services',
    retry: policy,
    timeoutMs: 60_000,
    async action({ signal }) {
      await deps.filesystem.call('GET', '/whoami', { signal });
      await deps.git.call('GET', '/whoami', { signal });
      return { ok: true };
    },
  };

  const saveFiles: SagaStep<WikiInput, WikiOutputs> = {
    name: 'save_files',
    state: 'saving_files',
    longRunning: true,
    compensateOnFailure: true,
    retry: policy,
    compensationRetry: policy,
    timeoutMs: 30 * 60_000,
    async action({ input, sagaId, signal, reportProgress }) {
      let saved = 0;
      const created: string[] = [];
      for await (const file of wikiFiles(input, deps.maxFileBytes)) {
        signal.throwIfAborted();
        const answer = await deps.filesystem.call('POST', '/save_file', {
          body: { project_id: input.projectId, path: file.path, content: await file.read() },
          idempotencyKey: saveKey(sagaId, file.path),
          signal,
        });
        if ((answer.body as { created?: unknown }).created === true) created.push(file.path);
        saved++;
        if (saved % 25 === 0) await reportProgress({ filesSaved: saved });
      }
      await reportProgress({ filesSaved: saved });
      return { files_saved: saved, files_created: created.length, created };
    },
    // Deletes what this saga created: from its output when the step succeeded, otherwise every file it may have
    // saved, each DELETE conditional on this saga's save having created the file.
    async compensation({ input, sagaId, outputs, signal }) {
      const leftovers: Leftover<WikiStore>[] = [];
      const paths = outputs.save_files ? outputs.save_files.created : await allPaths(input, deps.maxFileBytes);
      for (const p of paths) {
        const createdBy = saveKey(sagaId, p);
        try {
          await deps.filesystem.call('DELETE', fileUrl(input.projectId, p), { query: { created_by: createdBy }, idempotencyKey: `${createdBy}:undo`, signal });
        } catch (err) {
          leftovers.push({ store: 'filesystem', key: `${input.projectId}/${p}`, error: (err as Error).message, details: { createdBy } });
        }
      }
      if (leftovers.length > 0) throw new CompensationFailed(`${leftovers.length} of ${paths.length} saved files could not be deleted`, leftovers);
    },
  };

  const createSnapshot: SagaStep<WikiInput, WikiOutputs> = {
    name: 'create_snapshot',
    state: 'snapshotting',
    // The snapshot may exist although its answer was lost: undo looks it up by idempotency key.
    compensateOnFailure: true,
    retry: policy,
    compensationRetry: policy,
    timeoutMs: 120_000,
    async action({ input, sagaId, signal, outputs }) {
      const answer = await deps.git.call('POST', `/snapshot/${encodeURIComponent(input.projectId)}`, { idempotencyKey: snapshotKey(sagaId), signal });
      const snapshotId = (answer.body as { snapshot_id?: unknown }).snapshot_id;
      if (typeof snapshotId !== 'string') throw new Error('git service answered without a snapshot_id');
      const saved = outputs.save_files?.files_saved ?? 0;
      return { status: 'success', files_created: saved, snapshot_id: snapshotId, message: `Wiki generation completed: ${saved} files, snapshot ${snapshotId}` };
    },
    async compensation({ input, sagaId, outputs, signal }) {
      const key = snapshotKey(sagaId);
      let snapshotId = outputs.create_snapshot?.snapshot_id;
      try {
        if (snapshotId === undefined) {
          const found = await deps.git.call('GET', `/snapshot/${encodeURIComponent(input.projectId)}`, { query: { idempotency_key: key }, allow404: true, signal });
          if (found.status === 404) return;
          snapshotId = String((found.body as { snapshot_id?: unknown }).snapshot_id);
        }
        await deps.git.call('DELETE', `/snapshot/${encodeURIComponent(input.projectId)}/${encodeURIComponent(snapshotId)}`, { idempotencyKey: `${key}:undo`, signal });
      } catch (err) {
        const leftover: Leftover<WikiStore> = { store: 'git', key: `${input.projectId}/${snapshotId ?? key}`, error: (err as Error).message, details: { idempotencyKey: key } };
        throw new CompensationFailed('the snapshot could not be deleted', [leftover]);
      }
    },
  };

  return defineSaga<WikiInput, WikiOutputs, WikiStore>({
    name: WIKI_SAGA,
    steps: [checkServices, saveFiles, createSnapshot],
    stores: wikiStoreRegistry({ filesystem: deps.filesystem, git: deps.git }),
    stages: WIKI_STAGES,
    exclusivityKey: (input) => `wiki:${input.projectId}`,
  });
}

async function allPaths(input: WikiInput, maxFileBytes: number): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const f of wikiFiles(input, maxFileBytes)) out.push(f.path);
  } catch {
    // A file that failed the step's checks was never saved; the paths before it are what may have been.
  }
  return out;
}

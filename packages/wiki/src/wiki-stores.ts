// The wiki saga's leftover stores for the janitor and the checker: undo (a Cleaner) and exists, keyed by store
// name, so they plug into a table of cleaners or a per-definition store registry alike.
import type { Cleaner, LeftoverToClean } from '@ingest/saga-core';
import type { ServiceClient } from './service-client.ts';

/** The wiki saga's store names. */
export const WIKI_STORES = ['filesystem', 'git'] as const;
/** One of the wiki saga's store names. */
export type WikiStore = (typeof WIKI_STORES)[number];

/** A leftover as an existence check sees it. */
export type LeftoverRef = Pick<LeftoverToClean, 'key' | 'details'>;

/** Removes a leftover over HTTP; throws (to be retried later) while the service does not answer. */
export function wikiCleaners(clients: { filesystem: ServiceClient; git: ServiceClient }): Record<WikiStore, Cleaner> {
  return {
    filesystem: async ({ key, details }) => {
      const { project, rest } = split(key);
      const createdBy = (details as { createdBy?: unknown } | null)?.createdBy;
      await clients.filesystem.call('DELETE', `/file/${project}/${encodePath(rest)}`, typeof createdBy === 'string' ? { query: { created_by: createdBy } } : {});
    },
    git: async ({ key, details }) => {
      const { project, rest } = split(key);
      const snapshotId = await snapshotOf(clients.git, project, rest, details);
      if (snapshotId !== null) await clients.git.call('DELETE', `/snapshot/${project}/${encodeURIComponent(snapshotId)}`);
    },
  };
}

/** Whether a leftover is still there (the checker's question); throws while the service does not answer. */
export function wikiExists(clients: { filesystem: ServiceClient; git: ServiceClient }): Record<WikiStore, (leftover: LeftoverRef) => Promise<boolean>> {
  return {
    filesystem: async ({ key, details }) => {
      const { project, rest } = split(key);
      const createdBy = (details as { createdBy?: unknown } | null)?.createdBy;
      const r = await clients.filesystem.call('GET', `/file/${project}/${encodePath(rest)}`, { allow404: true, ...(typeof createdBy === 'string' ? { query: { created_by: createdBy } } : {}) });
      return r.status !== 404;
    },
    git: async ({ key, details }) => {
      const { project, rest } = split(key);
      const snapshotId = await snapshotOf(clients.git, project, rest, details);
      if (snapshotId === null) return false;
      return (await clients.git.call('GET', `/snapshot/${project}/${encodeURIComponent(snapshotId)}`, { allow404: true })).status !== 404;
    },
  };
}

function split(key: string): { project: string; rest: string } {
  const i = key.indexOf('/');
  if (i <= 0) throw new Error(`leftover key ${JSON.stringify(key)} is not project/name`);
  return { project: encodeURIComponent(key.slice(0, i)), rest: key.slice(i + 1) };
}

function encodePath(p: string): string {
  return p.split('/').map(encodeURIComponent).join('/');
}

// A leftover recorded before the snapshot's id was known names the idempotency key instead.
async function snapshotOf(git: ServiceClient, project: string, rest: string, details: unknown): Promise<string | null> {
  if (rest.startsWith('snap-')) return rest;
  const key = (details as { idempotencyKey?: unknown } | null)?.idempotencyKey;
  if (typeof key !== 'string') return null;
  const r = await git.call('GET', `/snapshot/${project}`, { query: { idempotency_key: key }, allow404: true });
  return r.status === 404 ? null : String((r.body as { snapshot_id?: unknown }).snapshot_id);
}

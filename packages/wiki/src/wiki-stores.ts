// The wiki saga's store registry: how the janitor undoes a leftover over HTTP and how the checker asks whether it is
// still there, for each store its compensations name.
import type { JsonValue, StoreRegistry } from '@ingest/saga-core';
import type { ServiceClient } from './service-client.ts';

/** The wiki saga's store names. */
export const WIKI_STORES = ['filesystem', 'git'] as const;
/** One of the wiki saga's store names. */
export type WikiStore = (typeof WIKI_STORES)[number];

type Details = { readonly [k: string]: JsonValue } | null;

/** The registry the wiki saga declares: undo throws (to be retried later) while a service does not answer. */
export function wikiStoreRegistry(clients: { filesystem: ServiceClient; git: ServiceClient }): StoreRegistry<WikiStore> {
  return {
    filesystem: {
      async undo(key, { details }) {
        const { project, rest } = split(key);
        const createdBy = createdByOf(details);
        await clients.filesystem.call('DELETE', `/file/${project}/${encodePath(rest)}`, createdBy ? { query: { created_by: createdBy } } : {});
      },
      async exists(key, { details }) {
        const { project, rest } = split(key);
        const createdBy = createdByOf(details);
        const r = await clients.filesystem.call('GET', `/file/${project}/${encodePath(rest)}`, { allow404: true, ...(createdBy ? { query: { created_by: createdBy } } : {}) });
        return r.status !== 404;
      },
    },
    git: {
      async undo(key, { details }) {
        const { project, rest } = split(key);
        const snapshotId = await snapshotOf(clients.git, project, rest, details);
        if (snapshotId !== null) await clients.git.call('DELETE', `/snapshot/${project}/${encodeURIComponent(snapshotId)}`);
      },
      async exists(key, { details }) {
        const { project, rest } = split(key);
        const snapshotId = await snapshotOf(clients.git, project, rest, details);
        if (snapshotId === null) return false;
        return (await clients.git.call('GET', `/snapshot/${project}/${encodeURIComponent(snapshotId)}`, { allow404: true })).status !== 404;
      },
    },
  };
}

function createdByOf(details: Details): string | undefined {
  const v = details?.createdBy;
  return typeof v === 'string' ? v : undefined;
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
async function snapshotOf(git: ServiceClient, project: string, rest: string, details: Details): Promise<string | null> {
  if (rest.startsWith('snap-')) return rest;
  const key = details?.idempotencyKey;
  if (typeof key !== 'string') return null;
  const r = await git.call('GET', `/snapshot/${project}`, { query: { idempotency_key: key }, allow404: true });
  return r.status === 404 ? null : String((r.body as { snapshot_id?: unknown }).snapshot_id);
}

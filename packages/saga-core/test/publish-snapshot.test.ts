// A second, unrelated saga on the same engine: publish files into a directory, then snapshot it.
// Its rollback deletes the published files, which shows the engine knows nothing of documents or S3. It declares
// its stores (published files, snapshot directories) through the public store registry alone, as any saga would.
import { mkdtemp, readdir, readFile, rm, stat, writeFile, mkdir, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CompensationFailed, SagaRollbackRequired, defineSaga, type SagaEngine, type StoreRegistry } from '../src/index.ts';
import { createHarness, type Harness } from './helpers.ts';

type PublishInput = { site: string; files: { name: string; body: string }[]; snapshotDir: string; failSnapshot?: boolean; blockUndo?: boolean };

const present = (p: string) =>
  stat(p).then(
    () => true,
    (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? false : Promise.reject(err)),
  );

type PublishStore = 'published-file' | 'snapshot-dir';

// Keyed by path: an undo is the removal of that path, and it is there while the path exists.
const publishStores: StoreRegistry<PublishStore> = {
  'published-file': { undo: (key) => rm(key, { force: true }), exists: present },
  'snapshot-dir': { undo: (key) => rm(key, { recursive: true, force: true }), exists: present },
};

/** Removes a path; when it cannot, names it as a leftover of `store` for the janitor. */
async function undo(store: PublishStore, key: string, remove: () => Promise<void>): Promise<void> {
  try {
    await remove();
  } catch (err) {
    throw new CompensationFailed<PublishStore>(`could not remove ${key}`, [{ store, key, error: String(err) }], err);
  }
}

const publishSnapshot = defineSaga<PublishInput, { publish: { published: string[] }; snapshot: { snapshot: string } }, PublishStore>({
  name: 'publish-snapshot',
  stores: publishStores,
  steps: [
    {
      name: 'publish',
      compensateOnFailure: true,
      async action({ input }) {
        await mkdir(input.site, { recursive: true });
        for (const f of input.files) await writeFile(path.join(input.site, f.name), f.body);
        return { published: input.files.map((f) => f.name) };
      },
      compensationRetry: { attempts: 1, backoffMs: 0 },
      async compensation({ input }) {
        for (const f of input.files) {
          const file = path.join(input.site, f.name);
          await undo('published-file', file, () => rm(file, { force: true }));
        }
      },
    },
    {
      name: 'snapshot',
      async action({ input, sagaId }) {
        // A test's stand-in for a file another process has taken over: a non-empty directory where index.md was.
        if (input.blockUndo) {
          await rm(path.join(input.site, 'index.md'));
          await mkdir(path.join(input.site, 'index.md', 'held'), { recursive: true });
        }
        if (input.failSnapshot) throw new SagaRollbackRequired('SNAPSHOT_REFUSED', 'snapshot target is read-only');
        const target = path.join(input.snapshotDir, sagaId);
        await cp(input.site, target, { recursive: true });
        return { snapshot: target };
      },
      async compensation({ input, sagaId }) {
        const target = path.join(input.snapshotDir, sagaId);
        await undo('snapshot-dir', target, () => rm(target, { recursive: true, force: true }));
      },
    },
  ],
});

// A saga that declares no store for its compensation's fallback leftover (step name, saga id).
const undeclared = defineSaga<{ n: number }>({
  name: 'undeclared-store',
  stores: {},
  steps: [
    {
      name: 'touch',
      compensateOnFailure: true,
      compensationRetry: { attempts: 1, backoffMs: 0 },
      async action() {
        return { touched: true };
      },
      async compensation() {
        throw new Error('disk gone');
      },
    },
    {
      name: 'refuse',
      async action() {
        throw new SagaRollbackRequired('REFUSED', 'refused');
      },
    },
  ],
});

let h: Harness;
let engine: SagaEngine;
let dir: string;

beforeAll(async () => {
  h = await createHarness();
  engine = await h.engine([publishSnapshot, undeclared]);
  await engine.startWorkers({ maintenanceIntervalMs: 0 });
  dir = await mkdtemp(path.join(tmpdir(), 'publish-'));
});
afterAll(async () => {
  await h.close();
  await rm(dir, { recursive: true, force: true });
});

describe('publish-then-snapshot saga', () => {
  const files = [
    { name: 'index.md', body: '# Home' },
    { name: 'about.md', body: 'About us' },
  ];

  it('publishes and snapshots', async () => {
    const site = path.join(dir, 'site-ok');
    const { sagaId } = await engine.start('publish-snapshot', { site, files, snapshotDir: path.join(dir, 'snaps') });
    const view = await h.waitForEnd(engine, sagaId);
    expect(view.status).toBe('completed');
    expect((await readdir(site)).sort()).toEqual(['about.md', 'index.md']);
    expect(await readFile(path.join(dir, 'snaps', sagaId, 'index.md'), 'utf8')).toBe('# Home');
  });

  it('a failed snapshot deletes the published files', async () => {
    const site = path.join(dir, 'site-fail');
    const { sagaId } = await engine.start('publish-snapshot', { site, files, snapshotDir: path.join(dir, 'snaps'), failSnapshot: true });
    const view = await h.waitForEnd(engine, sagaId);
    expect(view.status).toBe('compensated');
    expect(view.failure?.reason).toBe('SNAPSHOT_REFUSED');
    expect(await readdir(site)).toEqual([]);
  });

  it('a file it could not remove is recorded in its declared store and removed by a cleanup retry', async () => {
    const site = path.join(dir, 'site-blocked');
    const { sagaId } = await engine.start('publish-snapshot', { site, files, snapshotDir: path.join(dir, 'snaps'), failSnapshot: true, blockUndo: true });
    const view = await h.waitForEnd(engine, sagaId);
    expect(view.status).toBe('compensation_failed');
    const blocked = path.join(site, 'index.md');
    expect(view.failedCleanups).toEqual([expect.objectContaining({ step: 'publish', store: 'published-file', key: blocked, resolvedAt: null })]);
    const leftover = { sagaId, step: 'publish', store: 'published-file', key: blocked, details: null };
    expect(await publishStores['published-file'].exists(blocked, leftover)).toBe(true);
    // Still blocked: the retry fails and the leftover stays.
    const id = view.failedCleanups[0]!.id;
    expect(await engine.retryFailedCleanups({ ids: [id] })).toEqual({ attempted: 1, resolved: 0, failed: 1 });
    // The other process lets go: a plain file again, which the retry removes.
    await rm(blocked, { recursive: true });
    await writeFile(blocked, 'left behind');
    expect(await engine.retryFailedCleanups({ ids: [id] })).toEqual({ attempted: 1, resolved: 1, failed: 0 });
    expect(await publishStores['published-file'].exists(blocked, leftover)).toBe(false);
    expect((await engine.get(sagaId)).failedCleanups).toEqual([expect.objectContaining({ id, resolvedAt: expect.any(Date) })]);
  });

  it('a leftover in a store its saga does not declare is recorded, flagged, and never retried as cleaned', async () => {
    const { sagaId } = await engine.start('undeclared-store', { n: 1 });
    const view = await h.waitForEnd(engine, sagaId);
    expect(view.status).toBe('compensation_failed');
    const [leftover] = view.failedCleanups;
    expect(leftover).toEqual(expect.objectContaining({ step: 'touch', store: 'touch', key: sagaId, resolvedAt: null }));
    expect(leftover!.error).toMatch(/^UNDECLARED_STORE: saga "undeclared-store" declares no store "touch"/);
    expect(await engine.retryFailedCleanups({ ids: [leftover!.id] })).toEqual({ attempted: 1, resolved: 0, failed: 1 });
    expect((await engine.get(sagaId)).failedCleanups[0]!.error).toMatch(/declares no store "touch"/);
  });

  it('refuses a store without undo or exists at definition', () => {
    expect(() =>
      defineSaga({ name: 'bad-stores', stores: { half: { undo: async () => undefined } as never }, steps: [{ name: 'a', action: async () => undefined }] }),
    ).toThrow(/stores\.half: exists must be a function/);
  });

  it('types leftovers by the declared store names', () => {
    // @ts-expect-error 'wiki-page' is not one of the saga's stores.
    const wrong = new CompensationFailed<PublishStore>('x', [{ store: 'wiki-page', key: 'k', error: 'e' }]);
    expect(wrong.leftovers).toHaveLength(1);
  });
});

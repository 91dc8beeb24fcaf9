// A second, unrelated saga on the same engine: publish files into a directory, then snapshot it.
// Its rollback deletes the published files, which shows the engine knows nothing of documents or S3.
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SagaRollbackRequired, defineSaga, type SagaEngine } from '../src/index.ts';
import { createHarness, type Harness } from './helpers.ts';

type PublishInput = { site: string; files: { name: string; body: string }[]; snapshotDir: string; failSnapshot?: boolean };

const publishSnapshot = defineSaga<PublishInput>({
  name: 'publish-snapshot',
  steps: [
    {
      name: 'publish',
      compensateOnFailure: true,
      async action({ input }) {
        await mkdir(input.site, { recursive: true });
        for (const f of input.files) await writeFile(path.join(input.site, f.name), f.body);
        return { published: input.files.map((f) => f.name) };
      },
      async compensation({ input }) {
        for (const f of input.files) await rm(path.join(input.site, f.name), { force: true });
      },
    },
    {
      name: 'snapshot',
      async action({ input, sagaId }) {
        if (input.failSnapshot) throw new SagaRollbackRequired('SNAPSHOT_REFUSED', 'snapshot target is read-only');
        const target = path.join(input.snapshotDir, sagaId);
        await cp(input.site, target, { recursive: true });
        return { snapshot: target };
      },
      async compensation({ input, sagaId }) {
        await rm(path.join(input.snapshotDir, sagaId), { recursive: true, force: true });
      },
    },
  ],
});

let h: Harness;
let engine: SagaEngine;
let dir: string;

beforeAll(async () => {
  h = await createHarness();
  engine = await h.engine([publishSnapshot]);
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
});

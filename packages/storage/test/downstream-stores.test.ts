// Relational, graph and security stores on real PostgreSQL: upsert, idempotent remove, replays, migrations run twice at once.
import { randomUUID } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withMigrationLock } from '@ingest/saga-core/schema-tools';
import { createTestDatabase } from '@ingest/testkit';
import { createGraphStore, createRelationalStore, createSecurityStore, migrateStorage } from '../src/index.ts';
import { type StorageFixture, errorOf, setUpStorage } from './support.ts';

let f: StorageFixture;
const SHA = 'a'.repeat(64);

beforeAll(async () => {
  f = await setUpStorage();
});
afterAll(async () => {
  await f?.close();
});

describe('migrateStorage', () => {
  it('lets two processes migrate the same empty database at once, and a third run finds nothing to do', async () => {
    const db = await createTestDatabase('migrate');
    const a = postgres(db.url, { max: 3, onnotice: () => {} });
    const b = postgres(db.url, { max: 3, onnotice: () => {} });
    try {
      await Promise.all([migrateStorage(a), migrateStorage(b)]);
      await migrateStorage(a);
      const applied = await a`select count(*)::int as n from drizzle.__storage_migrations`;
      expect(applied[0]!.n).toBeGreaterThan(0);
      const tables = await a`select table_name from information_schema.tables where table_schema = 'public' order by 1`;
      expect(tables.map((t) => t.table_name)).toEqual([
        'document_heads', 'document_versions', 'documents', 'graph_edges', 'graph_nodes', 'security_audit', 'security_records', 'upload_chunks', 'upload_operations', 'vector_chunks',
      ]);
    } finally {
      await a.end();
      await b.end();
      await db.drop();
    }
  });

  it('waits while the engine holds the migration lock: both create the shared drizzle schema, one at a time', async () => {
    const db = await createTestDatabase('migrate-lock');
    const a = postgres(db.url, { max: 3, onnotice: () => {} });
    const b = postgres(db.url, { max: 3, onnotice: () => {} });
    let release = (): void => {};
    let taken = (): void => {};
    const held = new Promise<void>((r) => (taken = r));
    const holder = withMigrationLock(a, () => (taken(), new Promise<void>((r) => (release = r))));
    try {
      await held;
      let settled = false;
      const storage = migrateStorage(b).finally(() => (settled = true));
      // It can only be seen not to finish: a slow machine may hide the bug, never fail a correct lock.
      await new Promise((r) => setTimeout(r, 1_500));
      expect(settled).toBe(false);
      expect((await a`select count(*)::int as n from information_schema.schemata where schema_name = 'drizzle'`)[0]!.n).toBe(0);
      release();
      await holder;
      await storage;
      expect((await a`select count(*)::int as n from drizzle.__storage_migrations`)[0]!.n).toBeGreaterThan(0);
    } finally {
      release();
      await a.end();
      await b.end();
      await db.drop();
    }
  });
});

describe('relational store', () => {
  it('upserts, replaces on replay, gets, and removes idempotently', async () => {
    const store = createRelationalStore(f.sql);
    const id = randomUUID();
    const doc = { id, title: 'Report', category: 'legal', securityLevel: 'internal', sourcePath: '/src/a.pdf', size: 10, sha256: SHA, operationId: 'op-1', chunkCount: 1, metadata: { pages: 3 } };
    const first = await store.upsert(doc);
    expect(first).toMatchObject({ ...doc });
    const again = await store.upsert({ ...doc, title: 'Report v2' });
    expect(again.title).toBe('Report v2');
    expect(again.createdAt).toEqual(first.createdAt);
    expect((await f.sql`select count(*)::int as n from documents where id = ${id}`)[0]!.n).toBe(1);
    expect(await store.get(id)).toMatchObject({ title: 'Report v2', metadata: { pages: 3 } });
    // upsert maps its returned row itself (not through drizzle): it must read exactly as get's row does.
    expect(await store.get(id)).toEqual(again);
    expect(await store.remove(id)).toBe(true);
    expect(await store.remove(id)).toBe(false);
    expect(await store.get(id)).toBeUndefined();
    expect(await errorOf(() => store.get('not-a-uuid'))).toMatchObject({ code: 'INVALID_OPTION' });
  });
});

describe('graph store', () => {
  it('stores a document with relations, replaces them on replay, and removes exactly its own nodes and edges', async () => {
    const store = createGraphStore(f.sql);
    const a = randomUUID();
    const b = randomUUID();
    const shared = `law-${randomUUID()}`;
    const onlyA = `topic-${randomUUID()}`;
    await store.upsertDocument({ documentId: b, label: 'B', relations: [{ type: 'cites', targetLabel: shared }] });
    const r = await store.upsertDocument({
      documentId: a,
      label: 'A',
      properties: { category: 'legal' },
      relations: [
        { type: 'cites', targetLabel: shared, properties: { page: 4 } },
        { type: 'about', targetLabel: onlyA },
        { type: 'cites', targetLabel: shared, properties: { page: 4 } },
        { type: 'follows', targetId: b },
      ],
    });
    expect(r).toEqual({ documentId: a, relations: 3 });
    // A replay writes the same relations, not twice as many.
    await store.upsertDocument({ documentId: a, label: 'A', properties: { category: 'legal' }, relations: [{ type: 'cites', targetLabel: shared, properties: { page: 4 } }, { type: 'about', targetLabel: onlyA }, { type: 'follows', targetId: b }] });
    const got = await store.getDocument(a);
    expect(got).toEqual({
      label: 'A',
      properties: { category: 'legal' },
      relations: [
        { type: 'about', targetId: `entity:${onlyA}`, targetLabel: onlyA, properties: {} },
        { type: 'cites', targetId: `entity:${shared}`, targetLabel: shared, properties: { page: 4 } },
        { type: 'follows', targetId: b, targetLabel: undefined, properties: {} },
      ],
    });

    // A's own entity goes with it; the entity B still cites, and B itself, stay.
    expect(await store.remove(a)).toEqual({ removedNodes: 2, removedEdges: 3 });
    expect(await store.remove(a)).toEqual({ removedNodes: 0, removedEdges: 0 });
    expect(await store.getDocument(a)).toBeUndefined();
    const left = await f.sql`select id from graph_nodes where id in (${`entity:${shared}`}, ${`entity:${onlyA}`}, ${b}) order by id`;
    expect(left.map((n) => n.id).sort()).toEqual([b, `entity:${shared}`].sort());
    expect((await store.getDocument(b))?.relations).toHaveLength(1);
  });

  it('refuses a relation without exactly one target', async () => {
    const store = createGraphStore(f.sql);
    const err = await errorOf(() => store.upsertDocument({ documentId: randomUUID(), label: 'X', relations: [{ type: 'cites' }] }));
    expect(err).toMatchObject({ code: 'INVALID_OPTION' });
  });
});

describe('security store', () => {
  it('registers once with an audit entry, refuses a different identity, removes idempotently and keeps the trail', async () => {
    const store = createSecurityStore(f.sql);
    const documentId = randomUUID();
    const input = { documentId, contentSha256: SHA, classification: 'confidential', requestedBy: 'alice', requestedAt: new Date('2026-01-02T03:04:05Z') };
    const rec = await store.register(input);
    expect(rec).toMatchObject({ documentId, contentSha256: SHA, classification: 'confidential', requestedBy: 'alice', requestedAt: input.requestedAt });
    expect(await store.register(input)).toEqual(rec);
    expect(await errorOf(() => store.register({ ...input, contentSha256: 'b'.repeat(64) }))).toMatchObject({ code: 'DOCUMENT_CONFLICT', retryable: false });
    await store.audit(documentId, 'committed', 'saga', { sagaId: 's-1' });
    expect(await store.remove(documentId, 'janitor')).toBe(true);
    expect(await store.remove(documentId, 'janitor')).toBe(false);
    expect(await store.get(documentId)).toBeUndefined();
    const trail = await store.auditTrail(documentId);
    expect(trail.map((e) => [e.action, e.actor])).toEqual([['registered', 'alice'], ['committed', 'saga'], ['removed', 'janitor']]);
    expect(trail[1]!.details).toEqual({ sagaId: 's-1' });
  });

  it('generates a document id when none is given', async () => {
    const store = createSecurityStore(f.sql);
    const rec = await store.register({ contentSha256: SHA, classification: 'public', requestedBy: 'bob' });
    expect(rec.documentId).toMatch(/^[0-9a-f-]{36}$/);
  });
});

// GET /v1/sagas stays fast with millions of sagas: on 1 000 000 generated rows, every filter's statement is an index
// scan with no sequential scan and no sort (a stuck search sorts only the few stuck rows), and a page is answered in
// milliseconds. The rows are made by one INSERT ... SELECT generate_series; the time it takes is printed.
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateSagaCore } from '@ingest/saga-core';
import { createTestDatabase, type TestDatabase } from '@ingest/testkit';
import { parseSagaFilter, sagaSearchQuery, searchSagas, encodeCursor, type SagaSearchContext } from '../src/index.ts';

const ROWS = 1_000_000;
const STEPS = ['validate_file', 'start_streaming', 'chunked_upload', 'verify_integrity', 'security_classification', 'vector_insert', 'graph_insert', 'relational_insert', 'finalize'];
const ctx: SagaSearchContext = { stuckAfterSeconds: 120, stepsBySaga: { 'ingest-document': STEPS, other: ['a', 'b'] } };

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Relation Name'?: string;
  Plans?: PlanNode[];
}

function nodes(n: PlanNode): PlanNode[] {
  return [n, ...(n.Plans ?? []).flatMap(nodes)];
}

describe(`saga search on ${ROWS.toLocaleString('en')} sagas`, () => {
  let db: TestDatabase;
  let sql: Sql;
  let cursor: string;

  beforeAll(async () => {
    db = await createTestDatabase('plan');
    sql = postgres(db.url, { max: 2, onnotice: () => {} });
    await migrateSagaCore(sql);
    const started = Date.now();
    // Bulk load as one would restore a dump: the secondary indexes (the migration's own definitions, read back from
    // pg_indexes) are dropped, the rows inserted, and the indexes built again in one pass each.
    const indexes = await sql<{ indexname: string; indexdef: string }[]>`
      select indexname, indexdef from pg_indexes where tablename = 'saga_instances' and indexname <> 'saga_instances_pkey'`;
    for (const i of indexes) await sql`drop index ${sql(i.indexname)}`;
    // One saga a second going back ~11.5 days; most ended, a few live (0.1 %), some rolled back. Ids ascend (as
    // UUIDv7 would), so the primary key is appended to rather than split at random.
    await sql`
      insert into saga_instances (id, name, state, status, input, current_step, current_phase, deadline_at, created_at, updated_at, finished_at)
      select lpad(to_hex(i), 32, '0')::uuid,
        case when i % 50 = 0 then 'other' else 'ingest-document' end,
        case when i % 1000 = 0 then 'uploading' when i % 7 = 0 then 'rolled_back' when i % 101 = 0 then 'rollback_failed' else 'completed' end,
        case when i % 1000 = 0 then 'running' when i % 7 = 0 then 'compensated' when i % 101 = 0 then 'compensation_failed' else 'completed' end,
        '{}'::jsonb, i % 9, 'action', now() + interval '1 hour',
        now() - make_interval(secs => i), now() - make_interval(secs => i) + interval '5 minutes',
        case when i % 1000 = 0 then null else now() - make_interval(secs => i) + interval '5 minutes' end
      from generate_series(1, ${ROWS}) i`;
    const insertMs = Date.now() - started;
    await sql`set maintenance_work_mem = '256MB'`;
    for (const i of indexes) await sql.unsafe(i.indexdef);
    await sql`analyze saga_instances`;
    const [{ n } = { n: 0 }] = await sql<{ n: number }[]>`select count(*)::int as n from saga_instances`;
    expect(n).toBe(ROWS);
    const totalMs = Date.now() - started;
    console.log(`generated ${ROWS} sagas in ${(insertMs / 1000).toFixed(1)} s; with ${indexes.length} indexes built and analyze: ${(totalMs / 1000).toFixed(1)} s`);
    expect(indexes.length).toBeGreaterThanOrEqual(7);
    // The generation itself (one INSERT ... SELECT) must stay under a minute; index builds vary with the machine's load.
    expect(insertMs).toBeLessThan(60_000);
    const first = await searchSagas(sql, parseSagaFilter({ limit: '50' }), ctx);
    cursor = encodeCursor(first.nextCursor!);
  }, 300_000);

  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await db?.drop();
  });

  const cases: [string, Record<string, string>][] = [
    ['no filter', {}],
    ['status', { status: 'compensated' }],
    ['status, second page', { status: 'compensated', cursor: '' }],
    ['state', { state: 'rollback_failed' }],
    ['saga and step', { saga: 'ingest-document', step: 'chunked_upload' }],
    ['step of any saga', { step: 'chunked_upload' }],
    ['created range', { createdAfter: new Date(Date.now() - 86_400_000 * 3).toISOString(), createdBefore: new Date(Date.now() - 86_400_000).toISOString() }],
    ['status in a created range', { status: 'completed', createdBefore: new Date(Date.now() - 86_400_000 * 5).toISOString() }],
  ];

  it.each(cases)('%s: index scan, no sequential scan, no sort, answered fast', async (_label, raw) => {
    const query = { limit: '50', ...raw, ...(raw.cursor === '' ? { cursor } : {}) };
    const filter = parseSagaFilter(query);
    const [explained] = await sql<{ 'QUERY PLAN': { Plan: PlanNode }[] }[]>`explain (format json) ${sagaSearchQuery(sql, filter, ctx)}`;
    const plan = nodes(explained!['QUERY PLAN'][0]!.Plan);
    const types = plan.map((p) => p['Node Type']);
    expect(types, JSON.stringify(plan.map((p) => [p['Node Type'], p['Index Name'] ?? p['Relation Name'] ?? '']))).not.toContain('Seq Scan');
    expect(types).not.toContain('Sort');
    expect(types).not.toContain('Incremental Sort');
    expect(plan.some((p) => p['Relation Name'] === 'saga_instances' && /Index/.test(p['Node Type']))).toBe(true);
    const started = performance.now();
    const page = await searchSagas(sql, filter, ctx);
    const ms = performance.now() - started;
    console.log(`${_label}: ${page.sagas.length} rows in ${ms.toFixed(1)} ms via ${plan.flatMap((p) => (p['Index Name'] ? [p['Index Name']] : [])).join(', ')}`);
    expect(page.sagas.length).toBe(50);
    const times = page.sagas.map((s) => Date.parse(s.createdAt));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
  });

  it('stuck=true reads only live sagas through the partial index, never the whole table', async () => {
    const filter = parseSagaFilter({ stuck: 'true', limit: '50' });
    const [explained] = await sql<{ 'QUERY PLAN': { Plan: PlanNode }[] }[]>`explain (format json) ${sagaSearchQuery(sql, filter, ctx)}`;
    const plan = nodes(explained!['QUERY PLAN'][0]!.Plan);
    // saga_steps holds no rows here, so the planner may read it whole for the retry-backoff test; saga_instances never.
    const onSagas = plan.filter((p) => p['Relation Name'] === 'saga_instances');
    expect(onSagas.map((p) => `${p['Node Type']} ${p['Index Name'] ?? ''}`)).toEqual(['Index Scan saga_instances_live_idle']);
    const page = await searchSagas(sql, filter, ctx);
    // The live rows were last updated 5 minutes after creation, long ago: all are stuck.
    expect(page.sagas.every((s) => s.status === 'running')).toBe(true);
    expect(page.sagas).toHaveLength(50);
  });
});

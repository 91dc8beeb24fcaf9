// Retention: do the engine's tables plateau? Runs thousands of no-op sagas (9 steps; one in ten rolls back at its last
// step) in rounds, once with a retention pass (engine.pruneHistory, what the janitor runs) between rounds and once
// without, and samples each engine table's rows and pg_total_relation_size after every round.
// Usage: npm run bench:retention -- [--sagas N] [--round R] [--retain-ms M] [--in-flight F] [--concurrency C] [--no-write]
//        (or BENCH_SAGAS, BENCH_ROUND, BENCH_RETAIN_MS, BENCH_IN_FLIGHT, BENCH_CONCURRENCY in the environment)
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import postgres, { type Sql } from 'postgres';
import { SagaRollbackRequired, createSagaEngine, defineSaga, type SagaDefinition, type SagaEngine } from '@ingest/saga-core';
import { hasFlag, intOption, requireServiceEnv } from './lib/cli.ts';
import { fmt, markdownTable, upsertSection } from './lib/report.ts';
import { createScratchDatabase, deleteRedisPrefix } from './lib/scratch.ts';

const STEPS = 9;
const SAGA_NAME = 'retention9';
const ROLLBACK_EVERY = 10;
const TABLES = ['saga_instances', 'saga_steps', 'saga_events', 'saga_outbox', 'failed_cleanups'] as const;
const DEFAULTS = { sagas: 4000, round: 250, retainMs: 5000, inFlight: 64, concurrency: 8 } as const;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const silent = pino({ level: 'silent' });

interface Options {
  sagas: number;
  round: number;
  retainMs: number;
  inFlight: number;
  concurrency: number;
  write: boolean;
}

/** One sample: after `sagas` sagas ended (and, in the pruned run, a retention pass). */
interface Sample {
  sagas: number;
  rows: Record<(typeof TABLES)[number], number>;
  /** pg_total_relation_size of saga_instances, and of the other engine tables together (the saga history). */
  instanceBytes: number;
  historyBytes: number;
  totalBytes: number;
  /** Wall time of the retention pass, ms (0 without pruning). */
  pruneMs: number;
  pruned: number;
}

function parseOptions(argv: readonly string[]): Options {
  return {
    sagas: intOption(argv, '--sagas', 'BENCH_SAGAS', DEFAULTS.sagas),
    round: intOption(argv, '--round', 'BENCH_ROUND', DEFAULTS.round),
    retainMs: intOption(argv, '--retain-ms', 'BENCH_RETAIN_MS', DEFAULTS.retainMs, 0),
    inFlight: intOption(argv, '--in-flight', 'BENCH_IN_FLIGHT', DEFAULTS.inFlight),
    concurrency: intOption(argv, '--concurrency', 'BENCH_CONCURRENCY', DEFAULTS.concurrency),
    write: !hasFlag(argv, '--no-write'),
  };
}

// Nine steps that do nothing; every tenth saga refuses at its last step and rolls back (a compensated saga is one
// retention forgets entirely, a completed one keeps its row).
function benchSaga(): SagaDefinition<{ n: number }> {
  return defineSaga<{ n: number }>({
    name: SAGA_NAME,
    steps: Array.from({ length: STEPS }, (_, i) => ({
      name: `s${i}`,
      async action(ctx) {
        if (i === STEPS - 1 && ctx.input.n % ROLLBACK_EVERY === 0) throw new SagaRollbackRequired('BENCH_REFUSED', 'every tenth saga rolls back');
        return null;
      },
      async compensation() {},
    })),
  });
}

/** Runs `n` sagas keeping `inFlight` in flight; resolves when all ended. */
async function runRound(engine: SagaEngine, ended: Map<string, () => void>, first: number, n: number, inFlight: number): Promise<void> {
  let next = 0;
  await new Promise<void>((resolve, reject) => {
    let done = 0;
    const launch = (): void => {
      if (next >= n) return;
      const i = first + next++;
      const sagaId = randomUUID();
      ended.set(sagaId, () => {
        ended.delete(sagaId);
        if (++done === n) resolve();
        else launch();
      });
      engine.start(SAGA_NAME, { n: i }, { sagaId }).catch(reject);
    };
    for (let k = 0; k < Math.min(inFlight, n); k++) launch();
  });
}

async function sample(sql: Sql, sagas: number, pruneMs: number, pruned: number): Promise<Sample> {
  const rows = {} as Sample['rows'];
  let instanceBytes = 0;
  let historyBytes = 0;
  for (const t of TABLES) {
    const [r] = await sql<{ n: number; bytes: string }[]>`select (select count(*)::int from ${sql(t)}) as n, pg_total_relation_size(${t}::regclass)::text as bytes`;
    rows[t] = r?.n ?? 0;
    if (t === 'saga_instances') instanceBytes = Number(r?.bytes ?? 0);
    else historyBytes += Number(r?.bytes ?? 0);
  }
  return { sagas, rows, instanceBytes, historyBytes, totalBytes: instanceBytes + historyBytes, pruneMs, pruned };
}

/** One run on its own scratch database: rounds of sagas, a retention pass after each when `prune`. */
async function run(o: Options, redisUrl: string, databaseUrl: string, prune: boolean): Promise<Sample[]> {
  const db = await createScratchDatabase(databaseUrl, 'bench_retention');
  const prefix = `bret${randomUUID().slice(0, 8)}`;
  const sql = postgres(db.url, { max: 20, onnotice: () => undefined });
  const samples: Sample[] = [];
  try {
    const engine = await createSagaEngine({ sql, redisUrl, sagas: [benchSaga()], prefix, logger: silent });
    try {
      const ended = new Map<string, () => void>();
      engine.on('saga_ended', (e) => ended.get(e.sagaId)?.());
      await engine.startWorkers({ concurrency: o.concurrency, maintenanceIntervalMs: 0 });
      for (let done = 0; done < o.sagas; ) {
        const n = Math.min(o.round, o.sagas - done);
        await runRound(engine, ended, done, n, o.inFlight);
        done += n;
        let pruneMs = 0;
        let pruned = 0;
        if (prune) {
          const t0 = performance.now();
          const r = await engine.pruneHistory({ retainMs: o.retainMs });
          pruneMs = performance.now() - t0;
          pruned = r.sagasPruned;
        }
        // Both runs alike: a plain VACUUM (no exclusive lock) stands in for autovacuum, whose one-minute naptime is
        // longer than a round; without it freed space is not reusable yet and sizes would say nothing.
        await sql.unsafe(`vacuum ${TABLES.join(', ')}`);
        samples.push(await sample(sql, done, pruneMs, pruned));
        console.error(`${prune ? 'pruned' : 'unpruned'}: ${done} sagas, ${samples.at(-1)!.rows.saga_events} events, ${fmt(samples.at(-1)!.totalBytes / 1024 ** 2)} MiB`);
      }
    } finally {
      await engine.close();
    }
  } finally {
    await sql.end({ timeout: 5 });
    await deleteRedisPrefix(redisUrl, prefix).catch(() => 0);
    await db.drop();
  }
  return samples;
}

function render(o: Options, pruned: Sample[], unpruned: Sample[], load: number): string {
  // About eight rows, always including the first and the last round.
  const every = Math.max(1, Math.round(pruned.length / 8));
  const picked = pruned.map((_, i) => i).filter((i) => i % every === every - 1 || i === pruned.length - 1 || i === 0);
  const k = (n: number) => (n >= 10_000 ? `${fmt(n / 1000, 0)}k` : String(n));
  const mib = (b: number) => fmt(b / 1024 ** 2, 1);
  const rows = picked.map((i) => {
    const p = pruned[i]!;
    const u = unpruned[i]!;
    return [
      String(p.sagas),
      `${k(p.rows.saga_instances)} / ${k(u.rows.saga_instances)}`,
      `${k(p.rows.saga_steps)} / ${k(u.rows.saga_steps)}`,
      `${k(p.rows.saga_events)} / ${k(u.rows.saga_events)}`,
      `${k(p.rows.saga_outbox)} / ${k(u.rows.saga_outbox)}`,
      `${mib(p.historyBytes)} / ${mib(u.historyBytes)}`,
      `${mib(p.instanceBytes)} / ${mib(u.instanceBytes)}`,
      fmt(p.pruneMs, 0),
    ];
  });
  const table = markdownTable(['sagas ended', 'saga_instances', 'saga_steps', 'saga_events', 'saga_outbox', 'history tables, MiB', 'saga_instances, MiB', 'retention pass, ms'], rows);
  const last = { p: pruned.at(-1)!, u: unpruned.at(-1)! };
  const half = pruned[Math.floor(pruned.length / 2)]!;
  const date = new Date().toISOString().replace('T', ' ').replace(/:\d\d\.\d+Z$/, ' UTC');
  return [
    `${o.sagas} sagas of ${STEPS} no-op steps (every ${ROLLBACK_EVERY}th rolls back at its last step), in rounds of ${o.round} with ${o.inFlight} in flight (workers at concurrency ${o.concurrency}), twice on fresh databases: with a retention pass after each round (\`engine.pruneHistory\`, what the janitor's pass runs, retention ${o.retainMs} ms, default batches of 500, at most 20 per kind) and without. After each round both runs VACUUM the engine tables (standing in for autovacuum) and sample row counts and \`pg_total_relation_size\` (table + indexes + TOAST; "history tables" = saga_steps, saga_events, saga_outbox and failed_cleanups together). Cells: **with retention / without**.`,
    '',
    `- Date: ${date}; machine: ${os.cpus().length} cores, load ${fmt(load, 1)} at the start (shared with other work)`,
    `- Command: \`npm run bench:retention -- --sagas ${o.sagas} --round ${o.round} --retain-ms ${o.retainMs}\``,
    '',
    table,
    '',
    `- With retention, steps, events and outbox rows stay at what the last ${o.retainMs} ms of sagas left (${k(last.p.rows.saga_steps)} steps and ${k(last.p.rows.saga_events)} events after ${last.p.sagas} sagas, ${k(half.rows.saga_events)} events after ${half.sagas}); without, they grow by ${fmt(last.u.rows.saga_steps / last.u.sagas, 1)} steps and ${fmt(last.u.rows.saga_events / last.u.sagas, 1)} events per saga.`,
    `- saga_instances keeps one row per completed saga (it names what the saga committed; the consistency checker and the document's lineage read it) and loses the rows of sagas that rolled back: ${fmt(last.p.rows.saga_instances / last.p.sagas, 2)} rows per saga with retention against ${fmt(last.u.rows.saga_instances / last.u.sagas, 2)} without. The engine's footprint after ${last.p.sagas} sagas: ${mib(last.p.totalBytes)} MiB against ${mib(last.u.totalBytes)} MiB, of which the history tables ${mib(last.p.historyBytes)} MiB (${mib(half.historyBytes)} MiB after ${half.sagas}) against ${mib(last.u.historyBytes)} MiB.`,
    `- Delivered outbox rows go at every pass, so saga_outbox holds only rows not yet delivered (${last.p.rows.saga_outbox} at the end) against ${last.u.rows.saga_outbox} without retention.`,
    `- saga_instances itself is larger with retention (${mib(last.p.instanceBytes)} against ${mib(last.u.instanceBytes)} MiB): marking a completed saga pruned writes a new version of its row, and the partial index saga_instances_prunable is extra; it still grows by one row per committed saga, the price of keeping what each committed.`,
  ].join('\n');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (hasFlag(argv, '--help')) {
    console.log('usage: npm run bench:retention -- [--sagas N] [--round R] [--retain-ms M] [--in-flight F] [--concurrency C] [--no-write]');
    return;
  }
  const o = parseOptions(argv);
  const redisUrl = requireServiceEnv('REDIS_URL');
  const databaseUrl = requireServiceEnv('DATABASE_URL');
  const load = os.loadavg()[0] ?? 0;
  const unpruned = await run(o, redisUrl, databaseUrl, false);
  const pruned = await run(o, redisUrl, databaseUrl, true);
  const section = render(o, pruned, unpruned, load);
  console.log(section);
  if (o.write) {
    upsertSection(path.join(ROOT, 'BENCHMARKS.md'), '## Retention (issue 15)', section);
    console.error('wrote the "## Retention (issue 15)" section of BENCHMARKS.md');
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

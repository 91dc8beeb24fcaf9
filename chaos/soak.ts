// `npm run chaos`: a bounded chaos soak on a separate set of services. Worker processes ingest many sagas of mixed
// sizes (some racing for the same file) while workers are SIGKILLed, Redis, PostgreSQL and S3 are paused and
// restarted, and sources are modified under running sagas. Then everything is healed, every saga must end, the
// janitor runs, and the checker reads every committed byte back. Prints the report table on stdout; exits 1 on any
// violation, duplicate document or lost saga, 2 when the soak itself could not run. Loopback only.
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import postgres from 'postgres';
import { checkInvariants, connectInvariantDeps, createIngestRuntime, formatViolation, loadConfig, migrateIngestSchema, type IngestRuntime, type InvariantReport } from '@ingest/ingest';
import { runChaosLoop, type ChaosCounts } from './chaos-loop.ts';
import { runJanitorPass } from './janitor-runner.ts';
import { runFollowUp } from './lifecycle-followups.ts';
import { log } from './log.ts';
import { planSoak } from './plan.ts';
import { createRandom } from './random.ts';
import { formatReport, soakPassed, type SoakReport } from './report.ts';
import { countCompensating, countLive, pendingLeftovers, readSagaOutcomes, sagasWithLeftovers } from './saga-outcomes.ts';
import { SERVICES, createServiceSet, portOpen } from '@ingest/testkit';
import { writeRandomFile } from './sources.ts';
import { modifyWhileUploading } from './modify-while-uploading.ts';
import { USAGE, parseSoakArgs, type SoakOptions } from './soak-options.ts';
import { submitPlanned, type SubmissionOutcome } from './submitter.ts';
import { createWorkerFleet } from './worker-fleet.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

async function main(o: SoakOptions): Promise<number> {
  const t0 = Date.now();
  const durations: Record<string, number> = {};
  const phase = (name: string, since: number) => (durations[name] = Date.now() - since);
  const dir = path.resolve(o.dir ?? path.join(ROOT, `.data/chaos-${new Date().toISOString().replace(/[:.]/g, '-')}`));
  for (const port of [o.redisPort, o.pgPort, o.s3Port]) {
    if (await portOpen(port)) throw new Error(`port ${port} is in use; the soak needs its own services (see --redis-port/--pg-port/--s3-port)`);
  }
  const random = createRandom(o.seed);
  const runId = randomBytes(3).toString('hex');
  const services = createServiceSet({ root: ROOT, dir, ports: { redis: o.redisPort, postgres: o.pgPort, s3: o.s3Port } });
  const sources = path.join(dir, 'sources');
  let fleet: ReturnType<typeof createWorkerFleet> | undefined;
  let driver: IngestRuntime | undefined;
  let sql: postgres.Sql | undefined;
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    log('interrupted: healing and stopping');
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    log(`seed ${o.seed}; services in ${dir} on ports ${o.redisPort}/${o.pgPort}/${o.s3Port}`);
    await mkdir(sources, { recursive: true });
    let since = Date.now();
    const serviceEnv = await services.start();
    // Submissions land in the first 60 % of the chaos window, so sagas overlap each other and the faults.
    const plan = planSoak(random, o.sagas, o.chaosSeconds * 600, runId);
    for (const f of plan.files) await writeRandomFile(path.join(sources, f.name), f.bytes);
    const totalMiB = plan.files.reduce((s, f) => s + f.bytes, 0) / 1024 / 1024;
    log(`${plan.files.length} files (${totalMiB.toFixed(1)} MiB), ${plan.submissions.length} submissions (${plan.submissions.filter((s) => s.sharesFile).length} racing for a file)`);
    const env: Record<string, string> = {
      ...serviceEnv,
      SOURCE_ROOT: sources,
      QUEUE_PREFIX: 'soak',
      CHUNK_SIZE_BYTES: String(5 * 1024 * 1024),
      UPLOAD_CONCURRENCY: '2',
      WORKER_CONCURRENCY: '3',
      STEP_LEASE_MS: '5000',
      SAGA_TIMEOUT_SECONDS: '900',
      // Retry windows of a few seconds (production's are longer): a restart outlasts some of them, so actions and
      // compensations do fail for good now and then, and rollbacks and recorded leftovers happen under chaos.
      MAX_RESUME_ATTEMPTS: '3',
      RESUME_RETRY_DELAY_MS: '2000',
      STORE_RETRY_ATTEMPTS: '4',
      STORE_RETRY_BACKOFF_MS: '500',
      COMPENSATION_RETRY_ATTEMPTS: '4',
      EMBEDDING_DIMENSIONS: '64',
      STUCK_AFTER_SECONDS: '20',
      LOG_LEVEL: 'warn',
    };
    // `npm run migrate`'s work, then the driver: it submits and watches; it runs no workers.
    await migrateIngestSchema(loadConfig(env));
    driver = await createIngestRuntime(loadConfig(env), { logger: pino({ level: 'silent' }), role: 'producer' });
    sql = postgres(env.DATABASE_URL!, { max: 2, onnotice: () => {} });
    fleet = createWorkerFleet({ root: ROOT, size: o.workers, env, random });
    await fleet.start();
    phase('setup', since);

    // Chaos and submissions, side by side.
    since = Date.now();
    const mutated = new Set<string>();
    const cancelled = new Set<string>();
    const chaosStart = Date.now();
    const outcomes: Promise<SubmissionOutcome>[] = plan.submissions.map(async (p) => {
      await new Promise((r) => setTimeout(r, Math.max(0, chaosStart + p.atMs - Date.now())));
      const out = await submitPlanned(driver!, p);
      if (out.refusedBy) log(`submission ${p.index} refused: ${p.file.name} is locked by saga ${out.refusedBy}`);
      if (out.sagaId && p.mutate && (await modifyWhileUploading(driver!, out.sagaId, path.join(sources, p.file.name), p.mutate, p.file.bytes))) {
        mutated.add(out.sagaId);
      }
      if (out.sagaId && p.cancelAfterMs !== null) {
        await new Promise((r) => setTimeout(r, p.cancelAfterMs!));
        const answer = await Promise.race([driver!.cancel(out.sagaId), new Promise<null>((r) => setTimeout(() => r(null), 10_000))]).catch(() => null);
        if (answer?.accepted) {
          cancelled.add(out.sagaId);
          log(`cancelled saga ${out.sagaId} (${p.file.name}) in state ${answer.state}`);
        }
      }
      if (out.sagaId && p.followUp) out.followUp = await runFollowUp(driver!, out.sagaId, p, chaosStart + o.chaosSeconds * 1000 + 60_000);
      return out;
    });
    const started = new Map<string, { file: string; bytes: number }>();
    for (const p of outcomes) void p.then((out) => out.sagaId && started.set(out.sagaId, { file: out.planned.file.name, bytes: out.planned.file.bytes }));
    const chaos: ChaosCounts = await runChaosLoop({
      services,
      fleet,
      random,
      until: chaosStart + o.chaosSeconds * 1000,
      shouldStop: () => interrupted,
      rollingBack: async () => (await countCompensating(sql!)) > 0,
    });
    phase('chaos', since);

    // Heal: every service up and running, every worker running, every submission answered, every saga ended.
    since = Date.now();
    log('healing: resuming and starting every service, refilling the fleet');
    for (const s of SERVICES) await services.resume(s);
    await services.start();
    await fleet.ensureRunning(60_000);
    const answers = await Promise.all(outcomes);
    const deadline = Date.now() + o.quiesceSeconds * 1000;
    let live = await countLive(sql);
    // Bounded by --quiesce-seconds.
    while (live > 0 && Date.now() < deadline && !interrupted) {
      log(`${live} saga(s) still running or compensating`);
      await new Promise((r) => setTimeout(r, 5000));
      live = await countLive(sql).catch(() => live);
    }
    phase('quiesce', since);

    // Janitor: a pass, and more while leftovers are pending and due soon.
    since = Date.now();
    const janitorEnv = { ...env, LOG_LEVEL: 'warn', ORPHAN_GRACE_SECONDS: '0', STUCK_AFTER_SECONDS: '5' };
    let passes = 0;
    for (; passes < 4 && !interrupted; passes++) {
      await runJanitorPass(ROOT, janitorEnv);
      const pending = await pendingLeftovers(sql);
      if (pending.bySaga.size === 0 || !pending.nextDueAt) {
        passes += 1;
        break;
      }
      const wait = pending.nextDueAt.getTime() - Date.now();
      if (wait > 90_000) {
        passes += 1;
        break;
      }
      log(`${[...pending.bySaga.values()].reduce((a, b) => a + b, 0)} leftover(s) pending; next due in ${Math.max(0, Math.round(wait / 1000))} s`);
      await new Promise((r) => setTimeout(r, Math.max(0, wait) + 500));
    }
    phase('janitor', since);

    // The checker, reading every committed byte back.
    since = Date.now();
    const deps = connectInvariantDeps(loadConfig(env));
    let report: InvariantReport;
    try {
      report = await checkInvariants(deps, { deep: true, overdueGraceMs: 60_000, onViolation: (v) => log(`VIOLATION ${formatViolation(v)}`) });
    } finally {
      await deps.close();
    }
    phase('check', since);

    const sagas = await readSagaOutcomes(sql);
    const byId = new Map(sagas.map((s) => [s.id, s]));
    const pending = await pendingLeftovers(sql);
    const withLeftovers = await sagasWithLeftovers(sql);
    const lost = new Set<string>();
    for (const a of answers) if (a.sagaId && !byId.has(a.sagaId)) lost.add(a.sagaId);
    const followUps = answers.flatMap((a) => (a.followUp ? [a.followUp] : []));
    for (const f of followUps) if (f.sagaId && !byId.has(f.sagaId)) lost.add(f.sagaId);
    for (const s of sagas) if (s.status === 'running' || s.status === 'compensating') lost.add(s.id);
    const rolledBack = sagas.filter((s) => s.status === 'compensated' || s.status === 'failed');
    const compensationFailed = sagas.filter((s) => s.status === 'compensation_failed');
    const result: SoakReport = {
      date: new Date(t0).toISOString(),
      parameters: { sagas: o.sagas, chaosSeconds: o.chaosSeconds, workers: o.workers, seed: o.seed, chunkMiB: 5, files: plan.files.length, MiB: Math.round(totalMiB) },
      submissions: plan.submissions.length,
      sagasStarted: sagas.length,
      byStatus: sagas.reduce<Record<string, number>>((acc, s) => ({ ...acc, [s.status]: (acc[s.status] ?? 0) + 1 }), {}),
      committed: sagas.filter((s) => s.status === 'completed').length,
      rolledBack: rolledBack.length,
      rolledBackAfterSourceChange: rolledBack.filter((s) => mutated.has(s.id)).length,
      rolledBackAfterCancel: rolledBack.filter((s) => cancelled.has(s.id)).length,
      sourceMutations: mutated.size,
      cancellations: cancelled.size,
      rollbackFailedThenCleaned: compensationFailed.filter((s) => withLeftovers.has(s.id) && !pending.bySaga.has(s.id)).length,
      rollbackFailedStillPending: compensationFailed.filter((s) => pending.bySaga.has(s.id)).length,
      rollbackFailedNothingRecorded: compensationFailed.filter((s) => !withLeftovers.has(s.id)).length,
      lockRefusals: answers.filter((a) => a.refusedBy !== null).length,
      lifecycle: {
        deletes: followUps.filter((f) => f.kind === 'delete' && f.sagaId).length,
        replaces: followUps.filter((f) => f.kind === 'replace' && f.sagaId).length,
        deletesCompleted: followUps.filter((f) => f.kind === 'delete' && f.sagaId && byId.get(f.sagaId)?.status === 'completed').length,
        replacesCompleted: followUps.filter((f) => f.kind === 'replace' && f.sagaId && byId.get(f.sagaId)?.status === 'completed').length,
        refused: followUps.filter((f) => f.refusedBy !== null).length,
        skipped: followUps.filter((f) => f.skipped).length,
        failed: followUps.filter((f) => f.error !== null).length,
      },
      submissionsFailed: answers.filter((a) => a.error !== null).length,
      sagasLost: lost.size,
      lostIds: [...lost].slice(0, 10),
      violations: report.violationCount,
      duplicateDocuments: report.byKind.duplicate_document,
      chaos,
      workers: fleet.counts,
      janitorPasses: passes,
      checker: { byKind: report.byKind, scanned: report.scanned, durationMs: report.durationMs },
      durationsMs: { ...durations, total: Date.now() - t0 },
    };
    process.stdout.write(`${formatReport(result)}\n`);
    if (report.violationCount > 0) process.stdout.write(`${report.violations.map(formatViolation).join('\n')}\n`);
    return soakPassed(result) ? 0 : 1;
  } finally {
    log('stopping workers and the soak\'s services');
    await driver?.close().catch(() => undefined);
    await sql?.end({ timeout: 5 }).catch(() => undefined);
    await fleet?.stop().catch(() => undefined);
    await services.stopAll().catch((err: unknown) => log(`could not stop the services: ${String(err)}`));
    if (!o.keep) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    else log(`kept ${dir}`);
  }
}

let options: SoakOptions;
try {
  options = parseSoakArgs(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`chaos: ${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
  process.exit(2);
}
main(options).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`chaos: the soak could not run: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  },
);

// Entry point of the janitor: one repair pass (for a CronJob) or, with --loop, one every --interval-seconds.
// Prints a human summary line and the JSON summary per pass on stdout; logs go to stderr. Exit 0 unless a pass
// (one-shot) or the start-up throws. SIGTERM ends the loop after the current pass.
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import pino from 'pino';
import { startIngestRuntime, loadConfig, redactedConfig } from '@ingest/ingest';
import { runJanitor } from './janitor-loop.ts';
import { formatSummaryLine } from './summary-line.ts';

interface JanitorOptions {
  loop?: boolean;
  intervalSeconds: number;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number of seconds, at least 1');
  return n;
}

/** A pass started during an outage waits this long for PostgreSQL and Redis, then fails; the CronJob runs again. */
const JANITOR_START_WAIT_MS = 120_000;

function parseArgs(argv: readonly string[]): JanitorOptions {
  const program = new Command('janitor')
    .description('retry failed cleanups, reap orphan chunks, roll back overdue sagas, relay transitions, release stale locks, prune history (retention)')
    .option('--loop', 'run passes until SIGTERM instead of once')
    .option('--interval-seconds <n>', 'pause between passes with --loop', positiveInt, 30)
    .exitOverride();
  program.parse(argv, { from: 'user' });
  return program.opts<JanitorOptions>();
}

async function main(options: JanitorOptions): Promise<number> {
  const config = loadConfig(process.env);
  // stdout carries only the summaries; synchronous so that the final log lines survive process.exit.
  const logger = pino({ level: config.LOG_LEVEL }, pino.destination({ fd: 2, sync: true }));
  logger.info({ config: redactedConfig(config), loop: options.loop === true }, 'janitor starting');
  const runtime = await startIngestRuntime(config, { logger, role: 'janitor', waitUpToMs: JANITOR_START_WAIT_MS });
  const stop = new AbortController();
  // First signal: finish the current pass, then close and exit as usual; a second one exits 1 at once. Done by hand
  // (not close-with-grace) because the exit code must stay the pass's own.
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      logger.error({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    logger.info({ signal }, 'janitor stopping after the current pass');
    stop.abort();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  let exitCode = 0;
  try {
    await runJanitor({
      pass: () => runtime.janitorPass(),
      loop: options.loop === true,
      intervalMs: options.intervalSeconds * 1000,
      signal: stop.signal,
      onSummary: (summary) => process.stdout.write(`${formatSummaryLine(summary)}\n${JSON.stringify(summary)}\n`),
      onError: (err) => logger.error({ err }, 'janitor pass failed; next pass after the interval'),
    });
  } catch (err) {
    logger.error({ err }, 'janitor pass failed');
    exitCode = 1;
  }
  await runtime.close();
  logger.info({ exitCode }, 'janitor done');
  return exitCode;
}

let options: JanitorOptions;
try {
  options = parseArgs(process.argv.slice(2));
} catch (err) {
  // Commander has printed the problem or the help already.
  process.exit(err instanceof CommanderError && err.exitCode === 0 ? 0 : 2);
}
main(options).then(
  (code) => process.exit(code),
  (err: unknown) => {
    // Errors with a code are expected ones (bad configuration, refused connection); anything else shows its stack.
    const text = err instanceof Error ? ('code' in err && typeof err.code === 'string' ? err.message : (err.stack ?? err.message)) : String(err);
    process.stderr.write(`janitor: ${text}\n`);
    process.exit(1);
  },
);

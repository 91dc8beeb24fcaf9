// Entry point of the consistency checker (`npm run check`): prints each violation on its own line (kind, then ids),
// then a summary; `--json` prints the report instead. Exit 0 consistent, 1 violations, 2 the check could not run.
// Logs go to stderr; stdout carries only the findings.
import { CommanderError } from 'commander';
import { parseCheckerArgs, type CheckerOptions } from './checker-options.ts';

// Mirrors run-check.ts's EXIT, which is imported lazily: a bad flag should not wait for the runtime to load.
const COULD_NOT_CHECK = 2;

async function main(options: CheckerOptions): Promise<number> {
  const [{ default: pino }, { checkFleetSchema, connectInvariantDeps, loadConfig, redactedConfig }, { runCheck }] = await Promise.all([
    import('pino'),
    import('@ingest/ingest'),
    import('./run-check.ts'),
  ]);
  const config = loadConfig(process.env);
  const logger = pino({ level: config.LOG_LEVEL }, pino.destination({ fd: 2, sync: true }));
  logger.debug({ config: redactedConfig(config), deep: options.deep }, 'checker starting');
  // A database behind this build would read as violations (missing tables, columns): say what to run instead.
  await checkFleetSchema(config, logger);
  const deps = connectInvariantDeps(config);
  try {
    const overdueGraceMs = (options.graceSeconds ?? (2 * config.STEP_LEASE_MS) / 1000) * 1000;
    const { code } = await runCheck(deps, { ...options, overdueGraceMs }, (text) => process.stdout.write(text));
    return code;
  } finally {
    await deps.close();
  }
}

let options: CheckerOptions;
try {
  options = parseCheckerArgs(process.argv.slice(2));
} catch (err) {
  // Commander has printed the problem or the help already.
  process.exit(err instanceof CommanderError && err.exitCode === 0 ? 0 : COULD_NOT_CHECK);
}
main(options).then(
  (code) => process.exit(code),
  (err: unknown) => {
    // Errors with a code are expected ones (bad configuration, schema behind this build): their message says it all.
    const text = err instanceof Error ? ('code' in err && typeof err.code === 'string' ? err.message : (err.stack ?? err.message)) : String(err);
    process.stderr.write(`checker: could not check: ${text}\n`);
    process.exit(COULD_NOT_CHECK);
  },
);

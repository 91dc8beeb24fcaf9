// Entry point of `npm run recover`; prints one JSON line. Exit 0 recovered and verified, 1 not recoverable, 2 usage or configuration.
import { loadConfig } from '@ingest/ingest';
import { RECOVER_EXIT, runRecover } from './recover.ts';

try {
  const config = loadConfig(process.env);
  process.exitCode = await runRecover(config, process.argv.slice(2), (line) => process.stdout.write(`${line}\n`));
} catch (err) {
  const text = err instanceof Error ? (err.name === 'ConfigError' ? err.message : (err.stack ?? err.message)) : String(err);
  process.stderr.write(`recover: ${text}\n`);
  process.exitCode = RECOVER_EXIT.USAGE;
}

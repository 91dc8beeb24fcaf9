// Entry point of `npm run rotate-keys`; prints the report as one JSON line. Exit 0 done, 1 some keys left (listed), 2 could not run.
import pino from 'pino';
import { loadConfig } from '@ingest/ingest';
import { ROTATE_EXIT, runRotateKeys } from './rotate-keys.ts';

try {
  const config = loadConfig(process.env);
  const logger = pino({ level: config.LOG_LEVEL }, pino.destination({ fd: 2, sync: true }));
  process.exitCode = await runRotateKeys(config, logger, (line) => process.stdout.write(`${line}\n`));
} catch (err) {
  const text = err instanceof Error ? (err.name === 'ConfigError' ? err.message : (err.stack ?? err.message)) : String(err);
  process.stderr.write(`rotate-keys: ${text}\n`);
  process.exitCode = ROTATE_EXIT.FAILED;
}

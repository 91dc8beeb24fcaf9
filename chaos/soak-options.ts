// The soak's command line (node:util parseArgs: the root has no commander of the apps' version), with defaults
// sized to finish inside 10 minutes on a 2-core machine.
import { parseArgs } from 'node:util';

/** What the soak was asked for. */
export interface SoakOptions {
  sagas: number;
  chaosSeconds: number;
  workers: number;
  seed: number;
  quiesceSeconds: number;
  redisPort: number;
  pgPort: number;
  s3Port: number;
  dir?: string;
  keep: boolean;
}

/** The help text. */
export const USAGE = `usage: npm run chaos -- [--sagas N] [--chaos-seconds N] [--workers N] [--seed N] [--quiesce-seconds N]
       [--redis-port N] [--pg-port N] [--s3-port N] [--dir PATH] [--keep]
  --sagas            sagas to submit (default 340; about one in seven races another for its file and is refused)
  --chaos-seconds    how long faults are injected (default 180)
  --workers          worker processes (default 3)
  --seed             seed of every random choice: files, schedule, faults (default random)
  --quiesce-seconds  how long every saga gets to end once the chaos stops (default 300)
  --redis-port/--pg-port/--s3-port  ports of the soak's own services (default 46379/45432/49100)
  --dir              data directory of the soak's services and sources (default .data/chaos-<time>)
  --keep             keep the data directory afterwards`;

function int(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new RangeError(`--${name} must be a whole number in [${min}, ${max}], got ${value}`);
  return n;
}

/** Parses argv (without node and script); throws RangeError naming a bad flag, exits 0 after --help. */
export function parseSoakArgs(argv: string[]): SoakOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      sagas: { type: 'string' },
      'chaos-seconds': { type: 'string' },
      workers: { type: 'string' },
      seed: { type: 'string' },
      'quiesce-seconds': { type: 'string' },
      'redis-port': { type: 'string' },
      'pg-port': { type: 'string' },
      's3-port': { type: 'string' },
      dir: { type: 'string' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  return {
    sagas: int('sagas', values.sagas, 340, 1, 2000),
    chaosSeconds: int('chaos-seconds', values['chaos-seconds'], 180, 10, 3600),
    workers: int('workers', values.workers, 3, 1, 6),
    seed: int('seed', values.seed, Math.floor(Math.random() * 2 ** 31), 0, 2 ** 31),
    quiesceSeconds: int('quiesce-seconds', values['quiesce-seconds'], 300, 30, 3600),
    redisPort: int('redis-port', values['redis-port'], 46379, 1024, 65535),
    pgPort: int('pg-port', values['pg-port'], 45432, 1024, 65535),
    s3Port: int('s3-port', values['s3-port'], 49100, 1024, 65535),
    ...(values.dir ? { dir: values.dir } : {}),
    keep: values.keep === true,
  };
}


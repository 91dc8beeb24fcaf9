// The checker's command line: flags, their defaults and validation (commander), kept apart from main for tests.
import { Command, InvalidArgumentError } from 'commander';

/** What the command line asks for. */
export interface CheckerOptions {
  /** Print the report as one JSON document instead of lines. */
  json: boolean;
  /** Read every committed chunk back and compare its SHA-256. */
  deep: boolean;
  /** Seconds past its deadline before a live saga counts as overdue; default 2 × STEP_LEASE_MS. */
  graceSeconds: number | undefined;
  /** Violations kept in the JSON report (all are printed in line mode). */
  maxViolations: number;
}

function wholeNumber(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`must be a whole number >= ${min}`);
    return n;
  };
}

/** Parses argv (without node and script); throws CommanderError on a bad flag or --help. */
export function parseCheckerArgs(argv: readonly string[]): CheckerOptions {
  const program = new Command('check')
    .description('cross-check saga state, S3 chunks and every downstream store; exit 1 on any violation, 2 if the check could not run')
    .option('--json', 'print the whole report as JSON', false)
    .option('--deep', 'also read back every committed chunk and compare its SHA-256', false)
    .option('--grace-seconds <n>', 'how long past its deadline a live saga may still be (default 2 x STEP_LEASE_MS)', wholeNumber(0))
    .option('--max-violations <n>', 'violations kept in the JSON report', wholeNumber(0), 10_000)
    .exitOverride();
  program.parse([...argv], { from: 'user' });
  const o = program.opts<{ json: boolean; deep: boolean; graceSeconds?: number; maxViolations: number }>();
  return { json: o.json, deep: o.deep, graceSeconds: o.graceSeconds, maxViolations: o.maxViolations };
}

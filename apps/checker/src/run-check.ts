// Runs the checker once and writes its findings: one line per violation as found, then a summary (or one JSON report).
import { checkInvariants, formatSummary, formatViolation, type InvariantDeps, type InvariantReport } from '@ingest/ingest';
import type { CheckerOptions } from './checker-options.ts';

/** Exit codes of the checker. */
export const EXIT = { consistent: 0, violations: 1, couldNotCheck: 2 } as const;

/** Runs the check, writing to `out`; returns the exit code (0 consistent, 1 violations). */
export async function runCheck(deps: InvariantDeps, options: CheckerOptions & { overdueGraceMs: number }, out: (text: string) => void): Promise<{ code: number; report: InvariantReport }> {
  const report = await checkInvariants(deps, {
    deep: options.deep,
    overdueGraceMs: options.overdueGraceMs,
    maxViolations: options.maxViolations,
    // Lines go out as found, so a long scan of a broken fleet shows its first problems at once.
    ...(options.json ? {} : { onViolation: (v) => out(`${formatViolation(v)}\n`) }),
  });
  out(options.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatSummary(report)}\n`);
  return { code: report.ok ? EXIT.consistent : EXIT.violations, report };
}

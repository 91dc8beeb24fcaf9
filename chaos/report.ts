// The soak's verdict: what was started and how it ended, what the chaos did, and the three numbers that must be 0.
import type { InvariantReport } from '@ingest/ingest';
import type { ChaosCounts } from './chaos-loop.ts';

/** Everything the report table shows. */
export interface SoakReport {
  date: string;
  parameters: Record<string, string | number>;
  submissions: number;
  sagasStarted: number;
  /** Sagas by final status, as PostgreSQL has them. */
  byStatus: Record<string, number>;
  committed: number;
  rolledBack: number;
  rolledBackAfterSourceChange: number;
  rolledBackAfterCancel: number;
  /** Cancellations the engine accepted (the saga had not ended yet). */
  cancellations: number;
  /** Sources modified while their saga uploaded. */
  sourceMutations: number;
  rollbackFailedThenCleaned: number;
  rollbackFailedStillPending: number;
  /** compensation_failed with no failed_cleanups row at all (finding F3); the checker says whether anything is left. */
  rollbackFailedNothingRecorded: number;
  lockRefusals: number;
  /** Deletes and replacements started once their document committed, how they ended, and those refused (409), skipped or unanswered. */
  lifecycle: { deletes: number; replaces: number; deletesCompleted: number; replacesCompleted: number; refused: number; skipped: number; failed: number };
  submissionsFailed: number;
  sagasLost: number;
  lostIds: string[];
  violations: number;
  duplicateDocuments: number;
  chaos: ChaosCounts;
  workers: { started: number; killed: number; exitedOnTheirOwn: number };
  janitorPasses: number;
  checker: Pick<InvariantReport, 'byKind' | 'scanned' | 'durationMs'>;
  durationsMs: Record<string, number>;
}

/** True when the promise held: no violation, no duplicate, no lost saga. */
export function soakPassed(r: SoakReport): boolean {
  return r.violations === 0 && r.duplicateDocuments === 0 && r.sagasLost === 0;
}

/** The report as a Markdown table (pasteable into docs/consistency.md), parameters first. */
export function formatReport(r: SoakReport): string {
  const rows: [string, string][] = [
    ['date', r.date],
    ['parameters', Object.entries(r.parameters).map(([k, v]) => `${k}=${v}`).join(', ')],
    ['submissions', String(r.submissions)],
    ['sagas started', String(r.sagasStarted)],
    ['sagas by status', Object.entries(r.byStatus).map(([k, v]) => `${k} ${v}`).join(', ')],
    ['committed', String(r.committed)],
    ['rolled back', `${r.rolledBack} (${r.rolledBackAfterSourceChange} after a source change, ${r.rolledBackAfterCancel} cancelled by the user)`],
    ['rollback failed, then cleaned by the janitor', String(r.rollbackFailedThenCleaned)],
    ['rollback failed, leftovers still pending', String(r.rollbackFailedStillPending)],
    ['rollback failed with nothing recorded (F3)', String(r.rollbackFailedNothingRecorded)],
    ['lock refusals (409 SagaLockedError)', String(r.lockRefusals)],
    ['submissions that never got an answer', String(r.submissionsFailed)],
    [
      'deletes / replacements started (completed)',
      `${r.lifecycle.deletes} (${r.lifecycle.deletesCompleted}) / ${r.lifecycle.replaces} (${r.lifecycle.replacesCompleted}); ${r.lifecycle.refused} refused (409), ${r.lifecycle.skipped} skipped (not committed), ${r.lifecycle.failed} unanswered`,
    ],
    ['violations (must be 0)', String(r.violations)],
    ['duplicate documents (must be 0)', String(r.duplicateDocuments)],
    ['sagas lost (must be 0)', r.lostIds.length > 0 ? `${r.sagasLost}: ${r.lostIds.join(', ')}` : String(r.sagasLost)],
    ['worker SIGKILLs / restarts', `${r.chaos.workerKills} / ${r.workers.started - (r.parameters.workers as number)} (${r.workers.exitedOnTheirOwn} exited on their own)`],
    ['pauses (SIGSTOP/SIGCONT) redis / postgres / s3', `${r.chaos.pauses.redis} / ${r.chaos.pauses.postgres} / ${r.chaos.pauses.s3}`],
    ['stops/starts (services.sh) redis / postgres / s3', `${r.chaos.restarts.redis} / ${r.chaos.restarts.postgres} / ${r.chaos.restarts.s3} (${r.chaos.outagesDuringRollback} timed to hit a rollback)`],
    ['sources modified while their saga uploaded', String(r.sourceMutations)],
    ['user cancellations accepted', String(r.cancellations)],
    ['janitor passes', String(r.janitorPasses)],
    [
      'checker (deep)',
      `${r.checker.scanned.sagas} sagas, ${r.checker.scanned.documentsVerified} documents, ${r.checker.scanned.chunksVerified} chunks read back, ${r.checker.scanned.objectsListed} objects listed, ${(r.checker.durationMs / 1000).toFixed(1)} s`,
    ],
    ['phases (s)', Object.entries(r.durationsMs).map(([k, v]) => `${k} ${(v / 1000).toFixed(0)}`).join(', ')],
    ['verdict', soakPassed(r) ? 'PASS' : 'FAIL'],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = ['| ' + 'measure'.padEnd(width) + ' | value |', '|' + '-'.repeat(width + 2) + '|-------|'];
  for (const [k, v] of rows) lines.push(`| ${k.padEnd(width)} | ${v.replace(/\|/g, '\\|')} |`);
  return lines.join('\n');
}

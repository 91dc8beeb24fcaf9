// The human summary the CLI prints once a waited-for saga has ended.
import type { IngestionStatus } from '@ingest/ingest';
import { formatSeconds } from './progress-bar.ts';

/** Lines describing the outcome: status, document id, time taken, and every error. `fallbackMs` is the CLI's own wait. */
export function formatFinalResult(status: IngestionStatus, fallbackMs: number): string[] {
  const started = Date.parse(status.createdAt);
  const finished = status.finishedAt === null ? Number.NaN : Date.parse(status.finishedAt);
  const tookMs = Number.isFinite(started) && Number.isFinite(finished) ? finished - started : fallbackMs;
  const lines = [
    `status: ${status.status} (state ${status.state})`,
    `sagaId: ${status.sagaId}`,
    `documentId: ${status.documentId ?? '-'}`,
    `took: ${tookMs < 60_000 ? `${(tookMs / 1000).toFixed(1)} s` : formatSeconds(tookMs / 1000)}`,
  ];
  if (status.failure) lines.push(`failure: ${status.failure.reason}${status.failure.step ? ` in ${status.failure.step}` : ''}: ${status.failure.message}`);
  for (const e of status.errors) lines.push(`error: ${e}`);
  if (status.rollbackPerformed) lines.push(`rollback: ${status.rollbackStatus ?? 'performed'}`);
  for (const e of status.compensationErrors) lines.push(`compensation error: ${e}`);
  return lines;
}

// One human-readable line per janitor pass, for operators reading a CronJob's output.
import type { JanitorSummary } from '@ingest/ingest';

/** Summarizes a pass: leftovers, transitions, sagas, locks, orphan chunks, alerts and retention, then the time it took. */
export function formatSummaryLine(s: JanitorSummary): string {
  const parts = [
    `leftovers ${s.cleanups.resolved}/${s.cleanups.attempted} removed${s.cleanups.failed > 0 ? ` (${s.cleanups.failed} failed again)` : ''}`,
    `${s.relayed} transitions relayed`,
    `${s.redispatched} jobs re-dispatched`,
    `${s.rolledBackOverdue} overdue sagas rolled back`,
    `${s.releasedLocks} stale locks released`,
    `${s.orphanChunksDeleted} orphan chunks deleted in ${s.orphanPrefixes.length} prefixes`,
    `alerts ${s.alerts.delivered}/${s.alerts.attempted} delivered`,
    `retention: ${s.retention.outboxDelivered} delivered outbox rows, ${s.retention.sagasPruned} sagas' history (${s.retention.historyRows} rows), ${s.retention.operationsPruned} operations pruned${s.retention.held > 0 ? `, ${s.retention.held} held` : ''}`,
  ];
  return `janitor pass: ${parts.join(', ')}; ${(s.durationMs / 1000).toFixed(1)} s`;
}

// One line per violation for operators: the kind first, then the ids to act on, then what is wrong.
import type { InvariantReport, Violation } from './violation.ts';

/** `kind key=value ...`, stable enough to grep. */
export function formatViolation(v: Violation): string {
  switch (v.kind) {
    case 'orphan_chunks':
      return `${v.kind} operation=${v.operationId} saga=${v.sagaId ?? '-'} saga_status=${v.sagaStatus ?? '-'} objects=${v.count} keys=${v.keys.join(',')}`;
    case 'orphan_rows':
      return `${v.kind} store=${v.store} document=${v.documentId} saga=${v.sagaId ?? '-'} saga_status=${v.sagaStatus ?? '-'} rows=${v.count}`;
    case 'unrecorded_leftover':
      return `${v.kind} saga=${v.sagaId} store=${v.store} owner=${v.ownerId} count=${v.count} keys=${v.keys.join(',')}`;
    case 'corrupt_document':
      return `${v.kind} saga=${v.sagaId} document=${v.documentId} operation=${v.operationId} key=${v.key ?? '-'} problem=${JSON.stringify(v.problem)}`;
    case 'incomplete_document':
      return `${v.kind} saga=${v.sagaId} document=${v.documentId} store=${v.store} problem=${JSON.stringify(v.problem)}`;
    case 'overdue_saga':
      return `${v.kind} saga=${v.sagaId} status=${v.status} state=${v.state} deadline=${v.deadlineAt} overdue_s=${Math.round(v.overdueMs / 1000)}`;
    case 'leftover_already_gone':
    case 'unknown_leftover_store':
      return `${v.kind} leftover=${v.leftoverId} saga=${v.sagaId} store=${v.store} key=${v.key}`;
    case 'duplicate_document':
      return `${v.kind} by=${v.by} shared=${v.sharedKey} ids=${v.ids.join(',')}`;
    case 'removed_document_remains':
      return `${v.kind} document=${v.documentId} version=${v.versionId} saga=${v.sagaId ?? '-'} store=${v.store} key=${v.key} count=${v.count}`;
  }
}

/** The closing summary line: counts by kind and what was scanned. */
export function formatSummary(r: InvariantReport): string {
  const kinds = Object.entries(r.byKind)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k}=${n}`)
    .join(' ');
  const s = r.scanned;
  const seen = `${s.sagas} sagas (${s.liveSagas} live, ${s.completedSagas} completed), ${s.objectsListed} objects in ${s.operationsListed} operations, ${s.chunksVerified} committed chunks${r.deep ? ' read back' : ' checked'}, ${s.rowDocuments} store documents, ${s.leftoversChecked} open leftovers`;
  const verdict = r.ok ? 'consistent: no violations' : `${r.violationCount} violation(s): ${kinds}`;
  return `${verdict}; scanned ${seen} in ${(r.durationMs / 1000).toFixed(1)} s`;
}

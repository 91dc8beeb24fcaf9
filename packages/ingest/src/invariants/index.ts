// The consistency checker's public surface: run it, read its report, print it.
export { checkInvariants } from './check-invariants.ts';
export { connectInvariantDeps, type InvariantConnections } from './connect.ts';
export { resolveInvariantOptions, type InvariantDeps, type InvariantOptions } from './invariant-deps.ts';
export { formatSummary, formatViolation } from './format-violation.ts';
export { KNOWN_LEFTOVER_STORES } from './leftover-entries.ts';
export {
  VIOLATION_KINDS,
  type Violation,
  type ViolationKind,
  type InvariantReport,
  type InvariantScanCounts,
  type RowStore,
  type OrphanChunks,
  type OrphanRows,
  type UnrecordedLeftover,
  type CorruptDocument,
  type IncompleteDocument,
  type OverdueSaga,
  type LeftoverAlreadyGone,
  type UnknownLeftoverStore,
  type DuplicateDocument,
} from './violation.ts';

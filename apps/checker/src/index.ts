// @ingest/checker: the operator CLI over the ingestion package's consistency checker.
export { parseCheckerArgs, type CheckerOptions } from './checker-options.ts';
export { runCheck, EXIT } from './run-check.ts';

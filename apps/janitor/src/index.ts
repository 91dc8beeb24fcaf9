// @ingest/janitor: the repair process run by a CronJob (or looped), built on the runtime's janitorPass().
export { runJanitor, type RunJanitorOptions } from './janitor-loop.ts';
export { formatSummaryLine } from './summary-line.ts';

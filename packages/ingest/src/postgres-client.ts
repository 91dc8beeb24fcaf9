// Opens a postgres.js pool with the connection settings every app shares (DATABASE_PREPARE for PgBouncer).
import postgres, { type Sql } from 'postgres';
import type { IngestConfig } from './config.ts';

/** A lazily connected pool of at most `max` connections to `url`, named statements only when DATABASE_PREPARE allows. */
export function connectPostgres(config: Pick<IngestConfig, 'DATABASE_PREPARE'>, url: string, max: number): Sql {
  // Named (protocol-level) prepared statements live on one server connection; PgBouncer in transaction pooling hands
  // each transaction any server connection, so before 1.21 (max_prepared_statements) they must be off.
  return postgres(url, { max, prepare: config.DATABASE_PREPARE, onnotice: () => {} });
}

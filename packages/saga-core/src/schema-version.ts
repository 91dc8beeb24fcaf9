// The schema-version check every long-running process makes at start instead of migrating (`npm run migrate` does that).
// Rule of record (README, "Schema changes are additive first"): a migration may only add (tables, nullable or defaulted
// columns, indexes); what an older fleet still reads is dropped only in a later release. So a database *ahead* of this
// process (a newer fleet's migrations applied) is accepted; one *behind* it is refused with SchemaVersionError.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Sql } from 'postgres';
import { SagaError } from './errors.ts';

/** One package's migrations: where drizzle's journal lies and which table records what was applied. */
export interface MigrationSet {
  /** Name used in messages, e.g. "saga-core". */
  component: string;
  /** Folder holding meta/_journal.json (drizzle-kit's output). */
  folder: string;
  /** drizzle's record table, in the `drizzle` schema. */
  table: string;
}

/** What the database holds against what this process was built with. */
export interface SchemaVersion {
  component: string;
  /** Number of migrations this process knows. */
  expected: number;
  /** Number of migrations applied in the database (0: none, or no record table). */
  found: number;
  /** The latest migration this process knows, e.g. "0001_ops". */
  expectedTag: string;
  /** True when the database lacks a migration this process needs (refused). */
  behind: boolean;
  /** True when the database holds migrations newer than this process knows (accepted: additive first). */
  ahead: boolean;
}

/** The command that applies the schema; named in every SchemaVersionError. */
export const MIGRATE_COMMAND = 'npm run migrate (in the image: node apps/storage-admin/dist/migrate-main.js)';

/** The database's schema is behind what this process needs: run the migrations first. Code SCHEMA_OUTDATED. */
export class SchemaVersionError extends SagaError {
  readonly component: string;
  readonly expected: number;
  readonly found: number;

  constructor(v: SchemaVersion, where: string) {
    super(
      'SCHEMA_OUTDATED',
      `${v.component} schema${where ? ` of ${where}` : ''} is at version ${v.found}, this app expects version ${v.expected} (${v.expectedTag}): run \`${MIGRATE_COMMAND}\` first`,
    );
    this.component = v.component;
    this.expected = v.expected;
    this.found = v.found;
  }
}

interface JournalEntry {
  tag: string;
  when: number;
}

function journalOf(set: MigrationSet): JournalEntry[] {
  const raw = JSON.parse(readFileSync(path.join(set.folder, 'meta/_journal.json'), 'utf8')) as { entries: JournalEntry[] };
  return raw.entries;
}

/**
 * Compares the applied migrations of `set` with the ones this process ships. drizzle records each applied migration
 * with its journal timestamp and applies only those newer than the latest recorded, so "behind" means the latest
 * recorded is older than the latest known.
 */
export async function readSchemaVersion(sql: Sql, set: MigrationSet): Promise<SchemaVersion> {
  const entries = journalOf(set);
  const last = entries[entries.length - 1];
  const [exists] = await sql<{ present: boolean }[]>`select to_regclass(${`drizzle.${set.table}`}) is not null as present`;
  let found = 0;
  let latest = 0;
  if (exists?.present) {
    const [row] = await sql<{ n: number; latest: string | null }[]>`
      select count(*)::int as n, max(created_at)::text as latest from ${sql('drizzle')}.${sql(set.table)}`;
    found = row?.n ?? 0;
    latest = Number(row?.latest ?? 0);
  }
  const expectedWhen = last?.when ?? 0;
  return {
    component: set.component,
    expected: entries.length,
    found,
    expectedTag: last?.tag ?? '(none)',
    behind: latest < expectedWhen,
    ahead: latest > expectedWhen,
  };
}

/** Throws SchemaVersionError unless the database holds at least this process's migrations of `set`. */
export async function assertSchemaVersion(sql: Sql, set: MigrationSet, where = ''): Promise<SchemaVersion> {
  const v = await readSchemaVersion(sql, set);
  if (v.behind) throw new SchemaVersionError(v, where);
  return v;
}

/** True for a SchemaVersionError, even one from another copy of this module (bundles, serialized errors). */
export function isSchemaVersionError(err: unknown): err is SchemaVersionError {
  return (err as { code?: unknown } | null)?.code === 'SCHEMA_OUTDATED';
}

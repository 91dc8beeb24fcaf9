// The fleet's schema as one unit: the engine's tables on DATABASE_URL, the storage tables on it and on each distinct
// store database. `npm run migrate` applies it; every app checks it at start (SchemaVersionError when behind).
import type { Sql } from 'postgres';
import type { Logger } from 'pino';
import { checkSagaCoreSchema, migrateSagaCore, type SchemaVersion } from '@ingest/saga-core';
import { checkStorageSchema, migrateStorage } from '@ingest/storage';
import type { IngestConfig } from './config.ts';
import { connectPostgres } from './postgres-client.ts';

type DatabaseSetting = 'DATABASE_URL' | 'RELATIONAL_DATABASE_URL' | 'VECTOR_DATABASE_URL' | 'GRAPH_DATABASE_URL' | 'SECURITY_DATABASE_URL';

/** One database of the fleet, named by the first setting that points at it (never by its URL: it holds a password). */
export interface FleetDatabase {
  setting: DatabaseSetting;
  url: string;
}

/** The distinct databases the fleet writes: DATABASE_URL first, then each store URL that differs from every earlier one. */
export function fleetDatabases(config: IngestConfig): FleetDatabase[] {
  const all: FleetDatabase[] = [
    { setting: 'DATABASE_URL', url: config.DATABASE_URL },
    { setting: 'RELATIONAL_DATABASE_URL', url: config.RELATIONAL_DATABASE_URL ?? config.DATABASE_URL },
    { setting: 'VECTOR_DATABASE_URL', url: config.VECTOR_DATABASE_URL ?? config.DATABASE_URL },
    { setting: 'GRAPH_DATABASE_URL', url: config.GRAPH_DATABASE_URL ?? config.DATABASE_URL },
    { setting: 'SECURITY_DATABASE_URL', url: config.SECURITY_DATABASE_URL ?? config.DATABASE_URL },
  ];
  return all.filter((d, i) => all.findIndex((o) => o.url === d.url) === i);
}

/** One migrated or checked schema: which database, which package's tables, at which version. */
export interface SchemaReport extends SchemaVersion {
  setting: DatabaseSetting;
}

/** Applies every migration of the fleet (under each package's migration lock); returns the versions now in place. */
export async function migrateIngestSchema(config: IngestConfig): Promise<SchemaReport[]> {
  const reports: SchemaReport[] = [];
  for (const db of fleetDatabases(config)) {
    // Two connections: the lock's transaction holds one while the migrator runs on the other.
    const sql = connectPostgres(config, db.url, 2);
    try {
      if (db.setting === 'DATABASE_URL') {
        await migrateSagaCore(sql);
        reports.push({ setting: db.setting, ...(await checkSagaCoreSchema(sql, db.setting)) });
      }
      await migrateStorage(sql);
      reports.push({ setting: db.setting, ...(await checkStorageSchema(sql, db.setting)) });
    } finally {
      await sql.end({ timeout: 5 });
    }
  }
  return reports;
}

/**
 * Checks every schema of the fleet through `client`; throws SchemaVersionError (code SCHEMA_OUTDATED) naming the
 * setting, the expected and found versions and the command to run. A schema ahead of this build is accepted.
 */
export async function checkIngestSchema(config: IngestConfig, client: (url: string) => Sql, logger: Logger): Promise<void> {
  for (const db of fleetDatabases(config)) {
    const sql = client(db.url);
    const versions = [...(db.setting === 'DATABASE_URL' ? [await checkSagaCoreSchema(sql, db.setting)] : []), await checkStorageSchema(sql, db.setting)];
    for (const v of versions.filter((x) => x.ahead)) {
      logger.info({ setting: db.setting, component: v.component, expected: v.expected, found: v.found }, 'schema is ahead of this build; accepted (additive migrations)');
    }
  }
}

/** checkIngestSchema over short-lived connections of its own (the checker, which builds no runtime). */
export async function checkFleetSchema(config: IngestConfig, logger: Logger): Promise<void> {
  const pools = new Map<string, Sql>();
  try {
    await checkIngestSchema(
      config,
      (url) => pools.get(url) ?? (pools.set(url, connectPostgres(config, url, 1)), pools.get(url) as Sql),
      logger,
    );
  } finally {
    for (const p of pools.values()) await p.end({ timeout: 5 });
  }
}

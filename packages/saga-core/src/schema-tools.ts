// @ingest/saga-core/schema-tools: the migration lock and the schema-version check alone, for packages that migrate
// tables of their own (storage) without loading the engine (BullMQ, ioredis) into processes that never run it.
export { withMigrationLock } from './migration-lock.ts';
export {
  SchemaVersionError,
  MIGRATE_COMMAND,
  assertSchemaVersion,
  readSchemaVersion,
  isSchemaVersionError,
  type MigrationSet,
  type SchemaVersion,
} from './schema-version.ts';

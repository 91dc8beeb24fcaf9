// Entry point of `npm run migrate` (and the Kubernetes migrate Job): applies the fleet's schema to DATABASE_URL and
// each distinct store database, under each package's migration lock, before any app of the release starts.
// Prints one JSON line per schema. Exit 0 migrated, 1 failed, 2 configuration.
import { loadConfig, migrateIngestSchema } from '@ingest/ingest';

let config;
try {
  config = loadConfig(process.env);
} catch (err) {
  process.stderr.write(`migrate: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
}
try {
  for (const r of await migrateIngestSchema(config)) {
    process.stdout.write(`${JSON.stringify({ setting: r.setting, component: r.component, version: r.found, latestKnown: r.expectedTag })}\n`);
  }
} catch (err) {
  process.stderr.write(`migrate: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
}

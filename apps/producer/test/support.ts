// Test support: the shared isolated environment of @ingest/ingest/testing, and where the repository is.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export { createTestEnv, type TestEnv } from '@ingest/ingest/testing';

/** The repository root, for spawning the apps' entry points. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

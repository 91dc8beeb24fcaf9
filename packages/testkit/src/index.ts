// Test helpers shared by every package: real-service set-up, isolation, bounded waits, fault injection.
export { createTestDatabase, requireEnv, randomId, type TestDatabase } from './database.ts';
export { waitFor, type WaitForOptions } from './wait-for.ts';

import { defineConfig } from 'vitest/config';

// One run for the whole monorepo: every test talks to the real services that the global set-up starts.
export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'infra/**/*.test.ts'],
    globalSetup: ['./packages/testkit/src/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});

import { defineConfig } from 'vitest/config'

// unit: no database. integration and e2e: one PostgreSQL for the run (embedded, or
// JANUA_TEST_DATABASE_URL), one fresh database per test file.
export default defineConfig({
  test: {
    pool: 'forks',
    // Test files run 4 at a time on every machine. vitest's default is one fewer than the cores
    // (one file at a time on this 2-core machine: 13 min for the whole suite, the CPU half idle
    // while tests wait for locks, timeouts and subprocesses); with 4: 7.6 min, all green.
    maxWorkers: 4,
    minWorkers: 1,
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/setup/global.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/setup/global.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
})

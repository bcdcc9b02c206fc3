import { defineConfig } from 'vitest/config'

// unit: no database. integration and e2e: one PostgreSQL for the run (embedded, or
// JANUA_TEST_DATABASE_URL), one fresh database per test file.
export default defineConfig({
  test: {
    pool: 'forks',
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/setup/global.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          poolOptions: { forks: { maxForks: 3, minForks: 1 } },
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/setup/global.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          poolOptions: { forks: { maxForks: 3, minForks: 1 } },
        },
      },
    ],
  },
})

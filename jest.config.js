/**
 * Two projects: unit specs beside the code, e2e specs on the real AppModule in test/. The
 * multi-replica suite needs a PostgreSQL server (several processes cannot share the embedded
 * database's one connection), so it is registered when DATABASE_URL names one, as in CI's second
 * pass; test/support/global-setup.ts says so when it is not. test/start-dev.e2e-spec.ts and
 * test/tracing-export.e2e-spec.ts start the app on its own embedded database, so they run in the
 * embedded pass only.
 */
const shared = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  rootDir: __dirname,
  moduleNameMapper: { '^src/(.*)$': '<rootDir>/src/$1', '^test/(.*)$': '<rootDir>/test/$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }] },
};
const needsServer = process.env.DATABASE_URL
  ? []
  : [
      '<rootDir>/test/replicas.e2e-spec.ts',
      '<rootDir>/test/usage-replicas.e2e-spec.ts',
      '<rootDir>/test/tools-approval-replicas.e2e-spec.ts',
    ];
// These start their own app on the embedded database whatever the suite uses: once per CI run is enough.
const embeddedPassOnly = process.env.DATABASE_URL
  ? ['<rootDir>/test/start-dev.e2e-spec.ts', '<rootDir>/test/tracing-export.e2e-spec.ts']
  : [];
module.exports = {
  testTimeout: 60000,
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/src/**/*.spec.ts'] },
    {
      ...shared,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
      testPathIgnorePatterns: ['/node_modules/', ...needsServer, ...embeddedPassOnly],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
  ],
};

/**
 * Jest in ESM mode: @kubernetes/client-node >= 1.0 is ESM-only. TypeScript is stripped by swc; `npm run typecheck`
 * does the type checking. The global setup starts one real Kubernetes control plane for the run
 * (test/support/cluster.ts; PRESCALE_TEST_CLUSTER=off skips it, and suites that need one start their own).
 */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'es6' } }],
  },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  globalSetup: '<rootDir>/test/support/cluster-global.js',
  globalTeardown: '<rootDir>/test/support/cluster-global-teardown.js',
  testTimeout: 60000,
  maxWorkers: 2,
};

import type { Config } from 'jest';

// Three projects: `unit` needs nothing but loopback sockets; `integration` needs the real control plane
// from e2e/harness (its global setup brings it up when KUBECONFIG is not given); `e2e` needs a real node.
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '\\.ts$': '<rootDir>/scripts/jest-strip-types.cjs' },
  testEnvironment: 'node',
  moduleFileExtensions: ['ts', 'js', 'cjs', 'mjs', 'json'],
};

const config: Config = {
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/{schema,common,operator,sidecar,sweeper,router,cli,demo,manifests,images,e2e,bench}/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '\\.(int|e2e)\\.test\\.ts$'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/**/*.int.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '/.cache/'],
      // One control plane for the whole run, brought up here unless KUBECONFIG names one already.
      globalSetup: '<rootDir>/e2e/harness/jest-global-setup.ts',
      globalTeardown: '<rootDir>/e2e/harness/jest-global-teardown.ts',
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/e2e/suites/**/*.e2e.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '/.cache/'],
      // A real node joined to the control plane, images imported, Spawner deployed (e2e/suites/global-setup.ts).
      globalSetup: '<rootDir>/e2e/suites/global-setup.ts',
      globalTeardown: '<rootDir>/e2e/suites/global-teardown.ts',
    },
  ],
};

export default config;

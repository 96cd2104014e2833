// The end-to-end project on its own, until the top-level jest.config.ts lists it:
//   node --experimental-vm-modules node_modules/jest/bin/jest.js -c e2e/suites/jest.config.ts --runInBand
// The same entry belongs in the top-level `projects` (rootDir there is the repository already).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from 'jest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const config: Config = {
  rootDir: root,
  projects: [
    {
      displayName: 'e2e',
      rootDir: root,
      extensionsToTreatAsEsm: ['.ts'],
      transform: { '\\.ts$': '<rootDir>/scripts/jest-strip-types.cjs' },
      testEnvironment: 'node',
      moduleFileExtensions: ['ts', 'js', 'cjs', 'mjs', 'json'],
      testMatch: ['<rootDir>/e2e/suites/**/*.e2e.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '/.cache/'],
      globalSetup: '<rootDir>/e2e/suites/global-setup.ts',
      globalTeardown: '<rootDir>/e2e/suites/global-teardown.ts',
    },
  ],
};

export default config;

/**
 * The reliability suite (`npm run test:reliability`): database outages,
 * crashed gateway processes, model-based store tests and GraphQL fuzzing.
 * Self-contained: every file starts its own throwaway MariaDB (its own data
 * directory and port) and its own gateways; the shared MariaDB at :3306 is
 * not used. Files run one at a time so that the timing bounds they assert
 * are not measured on a machine busy with another file.
 * @type {import('jest').Config}
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test/reliability'],
  // jest.config.js (npm test) ignores this directory.
  testMatch: ['**/*.test.ts'],
  transform: {
    // Type checking is done by `tsc --noEmit`; ts-jest only transpiles.
    '^.+\\.ts$': ['ts-jest', { diagnostics: false, tsconfig: 'tsconfig.test.json' }],
  },
  setupFiles: ['reflect-metadata'],
  testTimeout: 120000,
  maxWorkers: 1,
  verbose: true,
};

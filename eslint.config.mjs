// Lint: typescript-eslint's recommended rules, import cycles forbidden in src/,
// and the layering (each layer imports only downward). Formatting is Prettier's.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/** Folders of src/ that a folder must not import from. */
const layers = [
  { target: './src/stores', from: ['./src/server', './src/resolvers', './src/services', './src/oauth', './src/cli'] },
  { target: './src/oauth', from: ['./src/server', './src/resolvers', './src/services', './src/cli'] },
  { target: './src/services', from: ['./src/server', './src/resolvers', './src/cli'] },
  { target: './src/resolvers', from: ['./src/server', './src/cli'] },
  { target: './src/providers', from: ['./src/server', './src/resolvers', './src/services', './src/cli'] },
  { target: './src/entities', from: ['./src/server', './src/resolvers', './src/services', './src/oauth', './src/cli'] },
];

export default tseslint.config(
  { ignores: ['dist/', 'dist-*/', '**/dist/', 'node_modules/', 'coverage/', 'bench/results.json', 'test-output/', 'clients/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    plugins: { 'import-x': importX },
    settings: {
      ...importX.flatConfigs.typescript.settings,
      'import-x/resolver-next': [createTypeScriptImportResolver()],
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-restricted-paths': ['error', { zones: layers }],
    },
  },
  {
    // Tests and benchmarks read JSON answers of any shape.
    files: ['test/**/*.ts', 'bench/**/*.ts', 'ui/src/api.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { module: 'writable', require: 'readonly', __dirname: 'readonly', process: 'readonly', console: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  prettier,
);

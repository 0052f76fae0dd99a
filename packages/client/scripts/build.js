// Builds dist/cjs (CommonJS) and dist/esm (ES modules), each with its type
// declarations and a package.json naming its module format, from a clean dist.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
fs.rmSync(path.join(root, 'dist'), { recursive: true, force: true });
for (const [config, dir, type] of [
  ['tsconfig.json', 'dist/cjs', 'commonjs'],
  ['tsconfig.esm.json', 'dist/esm', 'module'],
]) {
  execFileSync(process.execPath, [tsc, '-p', config], { cwd: root, stdio: 'inherit' });
  fs.writeFileSync(path.join(root, dir, 'package.json'), `${JSON.stringify({ type }, null, 2)}\n`);
}

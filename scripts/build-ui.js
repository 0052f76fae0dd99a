#!/usr/bin/env node
// Builds the dashboard (ui/) into dist/ui: one bundled, minified script and
// stylesheet plus index.html, all served by the gateway itself (no CDN).
const path = require('node:path');
const fs = require('node:fs');
const zlib = require('node:zlib');
const esbuild = require('esbuild');

const root = path.resolve(__dirname, '..');
const out = path.join(root, 'dist', 'ui');

async function main() {
  fs.mkdirSync(out, { recursive: true });
  await esbuild.build({
    entryPoints: { app: path.join(root, 'ui', 'src', 'main.tsx') },
    outdir: out,
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['chrome100', 'firefox100', 'safari15'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    legalComments: 'none',
    logLevel: 'warning',
  });
  fs.copyFileSync(path.join(root, 'ui', 'index.html'), path.join(out, 'index.html'));
  // Compressed once here, served as they are (@fastify/static preCompressed): no CPU per request.
  for (const name of ['index.html', 'app.js', 'app.css']) {
    const file = path.join(out, name);
    const data = fs.readFileSync(file);
    fs.writeFileSync(`${file}.br`, zlib.brotliCompressSync(data, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }));
    fs.writeFileSync(`${file}.gz`, zlib.gzipSync(data, { level: 9 }));
  }
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});

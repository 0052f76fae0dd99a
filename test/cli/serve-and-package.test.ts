/**
 * `tokengate serve` is the gateway process (what `npm start` runs), and the
 * package exports `tokengate/client` and `tokengate/zoho`.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../support/process-gateway';

const ROOT = path.resolve(__dirname, '../..');
const CLI = path.join(ROOT, 'dist/cli/tokengate.js');

describe('tokengate serve', () => {
  it('serves the gateway with the configured store, and stops cleanly on SIGTERM', async () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'tokengate-serve-'));
    const port = await freePort();
    const child = spawn(process.execPath, [CLI, 'serve'], {
      cwd,
      env: { PATH: process.env.PATH ?? '', TOKENGATE_PORT: String(port), TOKENGATE_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    // It logs (at info) once it listens; the test waits for that line, or for the process to end.
    const serving = new Promise<boolean>((resolve) => {
      const onData = (c: Buffer) => {
        out += c.toString();
        if (out.includes(`tokengate serving on http://127.0.0.1:${port}/graphql`)) resolve(true);
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('close', () => resolve(false));
    });
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    try {
      expect(await serving).toBe(true);
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      expect(ok).toBe(true);
      expect(fs.existsSync(path.join(cwd, 'data', 'tokengate.db'))).toBe(true);
      const key = fs.readFileSync(path.join(cwd, 'data', 'admin.key'), 'utf8').trim();
      const r = await fetch(`http://127.0.0.1:${port}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: '{"query":"{ tokens { totalCount } }"}',
      });
      expect(await r.json()).toEqual({ data: { tokens: { totalCount: 0 } } });
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      fs.rmSync(cwd, { recursive: true, force: true });
    }
    expect(out).toContain('stopped');
  });

  it('is what npm start runs', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.scripts.start).toBe('node dist/cli/tokengate.js serve');
    expect(pkg.bin).toEqual({ tokengate: 'dist/cli/tokengate.js' });
    expect(fs.readFileSync(CLI, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });
});

describe('package exports', () => {
  it('tokengate/client and tokengate/zoho resolve (with their type declarations) for code that requires the package', () => {
    const r = spawnSync(
      process.execPath,
      [
        '-e',
        `const c = require('tokengate/client'); const z = require('tokengate/zoho');
         console.log(typeof c.TokengateClient, typeof c.TokengateError, typeof c.isTokengateError, typeof z.TokengateZohoStore);`,
      ],
      { cwd: ROOT, encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('function function function function');
    for (const f of ['dist/client/index.d.ts', 'dist/zoho/index.d.ts']) expect(fs.existsSync(path.join(ROOT, f))).toBe(true);
  });
});

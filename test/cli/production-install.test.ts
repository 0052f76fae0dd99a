/**
 * The production way, for real: a built tree (dist/, as `npm run build`
 * leaves it) with package.json and the lockfile, installed with
 * `npm ci --omit=dev` in a directory of its own — no TypeScript, no dev
 * dependency — serves with `node dist/cli/tokengate.js serve` (what
 * `npm run serve` runs, without building), answers
 * /healthz and the API, and exits 0 on SIGTERM. `npm ci` warns of no engine.
 * It compiles better-sqlite3 from source: minutes on a busy machine.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../support/process-gateway';

const ROOT = path.resolve(__dirname, '../..');
// Compiling better-sqlite3 takes a minute or two on an idle machine, far longer on a busy one.
jest.setTimeout(45 * 60_000);

describe('a built tree installed with npm ci --omit=dev', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tokengate-production-'));
    // What the README says to copy: the gateway's build and the built client package (the CLI's `token` and `connect` use it).
    for (const f of ['package.json', 'package-lock.json', 'dist', 'packages/client/package.json', 'packages/client/dist'])
      fs.cpSync(path.join(ROOT, f), path.join(dir, f), { recursive: true });
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('serves with node dist/cli/tokengate.js serve, without building and without dev dependencies, and exits 0 on SIGTERM', async () => {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const ci = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const p = spawn(npm, ['ci', '--omit=dev', '--no-audit', '--no-fund'], {
        cwd: dir,
        env: { ...process.env, NODE_ENV: 'production' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      p.stdout!.on('data', (c: Buffer) => (output += c.toString()));
      p.stderr!.on('data', (c: Buffer) => (output += c.toString()));
      p.once('close', (code) => resolve({ code, output }));
    });
    expect(ci).toMatchObject({ code: 0 });
    expect(ci.output).not.toMatch(/EBADENGINE/);
    // No build tool came with it: serving must not need one.
    expect(fs.existsSync(path.join(dir, 'node_modules', 'typescript'))).toBe(false);

    const port = await freePort();
    // The production command of the README and its systemd unit (npm run serve runs the same, for a terminal).
    const child = spawn(process.execPath, ['dist/cli/tokengate.js', 'serve'], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? dir, TOKENGATE_PORT: String(port), NODE_ENV: 'production' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    try {
      // Serving is announced in the log: wait for that line, then ask.
      await new Promise<void>((resolve, reject) => {
        const check = () => (out.includes('tokengate serving on') ? resolve() : undefined);
        child.stdout!.on('data', check);
        child.once('close', () => reject(new Error(`the gateway exited before serving:\n${out}`)));
        check();
      });
      expect(out).not.toMatch(/tsc -p/);
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(await health.json()).toEqual({ status: 'ok' });
      const key = fs.readFileSync(path.join(dir, 'data', 'admin.key'), 'utf8').trim();
      const r = await fetch(`http://127.0.0.1:${port}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: '{"query":"{ tokens { totalCount } }"}',
      });
      expect(await r.json()).toEqual({ data: { tokens: { totalCount: 0 } } });
      // The CLI's client commands work from this tree too (they load @tokengate/client).
      const saved = await fetch(`http://127.0.0.1:${port}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ query: 'mutation { saveToken(token: { userName: "prod@example.com", accessToken: "prod-access", expiresIn: 3600 }) { id } }' }),
      });
      const id = ((await saved.json()) as { data: { saveToken: { id: string } } }).data.saveToken.id;
      const cli = spawnSync(process.execPath, ['dist/cli/tokengate.js', 'token', '--id', id, '--url', `http://127.0.0.1:${port}`], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? '', TOKENGATE_API_KEY: key },
        encoding: 'utf8',
      });
      expect({ status: cli.status, stdout: cli.stdout, stderr: cli.stderr }).toEqual({ status: 0, stdout: 'prod-access\n', stderr: '' });
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
    expect(out).toContain('stopped');
  });
});

describe("the README's systemd unit", () => {
  it('passes systemd-analyze verify, and runs what the README calls the production command', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Running in production'));
    const unit = /```ini\n([\s\S]*?)```/.exec(section)?.[1];
    expect(unit).toBeDefined();
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/node dist\/cli\/tokengate\.js serve$/m);
    expect(unit).toMatch(/^RestartPreventExitStatus=2$/m);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tokengate-unit-'));
    try {
      const file = path.join(dir, 'tokengate.service');
      fs.writeFileSync(file, unit!);
      const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
      expect(r.error).toBeUndefined();
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.scripts.serve).toBe('node dist/cli/tokengate.js serve');
    expect(pkg.scripts.preserve).toBeUndefined();
  });
});

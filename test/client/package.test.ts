/**
 * `@tokengate/client` as a user gets it: `npm pack` of packages/client,
 * installed into an empty folder with nothing else, then used from CommonJS
 * and from an ES module against a real gateway, and type-checked from both.
 */
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { installPacked, packClient, type PackedClient } from '../support/packed-client';

const TSC = require.resolve('typescript/bin/tsc');

let gw: TestGateway;
let packDir: string;
let packed: PackedClient;
let consumer: string;

beforeAll(async () => {
  gw = await startTestGateway({ store: 'sqlite' });
  packDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tokengate-client-pack-'));
  packed = packClient(packDir);
  consumer = installPacked(packed.tarball);
}, 180_000);
afterAll(async () => {
  await gw?.close();
  for (const dir of [packDir, consumer]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * Runs `node` in the consumer folder with the gateway's URL and an operator
 * key in its environment (asynchronously: the gateway answers from this process).
 */
function node(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      { cwd: consumer, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', TG_URL: gw.url, TG_KEY: gw.keys.operator } },
      (err, stdout, stderr) => resolve({ stdout, stderr: err && !stderr ? String(err) : stderr }),
    );
  });
}

describe('@tokengate/client, packed', () => {
  it('is a small tarball of the two builds, their types and the README', () => {
    expect(packed.files).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'dist/cjs/index.js',
        'dist/cjs/index.d.ts',
        'dist/cjs/package.json',
        'dist/esm/index.js',
        'dist/esm/index.d.ts',
        'dist/esm/package.json',
      ]),
    );
    expect(packed.files.filter((f) => !/^(package\.json|README\.md|dist\/(cjs|esm)\/[\w-]+\.(js|d\.ts|json))$/.test(f))).toEqual([]);
    expect(packed.size).toBeLessThan(20_000);
    const manifest = JSON.parse(fs.readFileSync(path.join(consumer, 'node_modules/@tokengate/client/package.json'), 'utf8'));
    expect(manifest.dependencies ?? {}).toEqual({});
  });

  it('installs into an empty folder, offline, with no other package', () => {
    expect(fs.readdirSync(path.join(consumer, 'node_modules')).filter((n) => !n.startsWith('.'))).toEqual(['@tokengate']);
    expect(fs.readdirSync(path.join(consumer, 'node_modules/@tokengate'))).toEqual(['client']);
  });

  it('works from CommonJS (require) against a gateway', async () => {
    const r = await node([
      '-e',
      `const { TokengateClient, TokengateError } = require('@tokengate/client');
       const tg = new TokengateClient({ url: process.env.TG_URL, apiKey: process.env.TG_KEY });
       (async () => {
         const saved = await tg.saveToken({ id: 'cjs-1', refreshToken: 'r-cjs', accessToken: 'a-cjs', expiresIn: 3600 });
         const missing = await tg.refresh('nope').catch((e) => e);
         console.log(JSON.stringify({ id: saved.id, date: saved.createdAt instanceof Date, access: (await tg.getToken('cjs-1')).accessToken, error: missing instanceof TokengateError && missing.code }));
       })().catch((e) => { console.error(e); process.exit(1); });`,
    ]);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ id: 'cjs-1', date: true, access: 'a-cjs', error: 'NOT_FOUND' });
  });

  it('works from an ES module (import) against a gateway', async () => {
    fs.writeFileSync(
      path.join(consumer, 'esm.mjs'),
      `import { TokengateClient, isTokengateError } from '@tokengate/client';
       const tg = new TokengateClient({ url: process.env.TG_URL, apiKey: process.env.TG_KEY, secrets: 'none' });
       const page = await tg.listTokens({ first: 10 });
       const err = await tg.deleteTokens().catch((e) => e);
       console.log(JSON.stringify({ ids: page.nodes.map((t) => t.id), forbidden: isTokengateError(err, 'FORBIDDEN') }));`,
    );
    const r = await node(['esm.mjs']);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ ids: ['cjs-1'], forbidden: true });
  });

  it('type-checks from an ES module and from CommonJS (module node16), without @types/node', () => {
    // A wrong call must be refused: if the types did not resolve, the unused @ts-expect-error fails the check.
    const uses = `const tg = new TokengateClient({ url: 'http://127.0.0.1:4000', apiKey: 'k', secrets: 'all', timeoutMs: 5000 });
      // @ts-expect-error url is a string
      new TokengateClient({ url: 1, apiKey: 'k' });
      export async function use(): Promise<string | null | undefined> {
        const t: Token | null = await tg.getToken({ userName: 'u@example.com' });
        try { return (await tg.refresh('1', { force: false })).accessToken; }
        catch (e) { if (e instanceof TokengateError) { const c: TokengateErrorCode = e.code; return c + (e.oauthError ?? ''); } return t?.refreshToken; }
      }`;
    const imports = `import { TokengateClient, TokengateError, type Token, type TokengateErrorCode } from '@tokengate/client';`;
    fs.writeFileSync(path.join(consumer, 'types-esm.mts'), `${imports}\n${uses}\n`);
    fs.writeFileSync(path.join(consumer, 'types-cjs.cts'), `${imports}\n${uses}\n`);
    fs.writeFileSync(
      path.join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module: 'node16', target: 'ES2022', lib: ['ES2022', 'DOM'], types: [], strict: true, noEmit: true },
        files: ['types-esm.mts', 'types-cjs.cts'],
      }),
    );
    const r = spawnSync(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: consumer, encoding: 'utf8' });
    expect(r.stdout).toBe('');
    expect(r.status).toBe(0);
  });
});

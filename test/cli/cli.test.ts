/**
 * The `tokengate` command as users run it: the built CLI (`dist/cli/tokengate.js`,
 * made by `npm run build`, which `npm test` runs first) as a child process,
 * with its environment, in a temporary directory.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ZOHO_CSV_HEADER } from '../../src/interop/zoho-format';
import { startFakeAccountsServer, type FakeAccountsServer } from '../support/fake-accounts-server';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { createScratchDatabase, describeWithMysql, type ScratchDatabase } from '../support/mysql';
import { fillZohoDatabase, writeWithTsSdk } from '../interop/zoho-sdk-files';

const CLI = path.resolve(__dirname, '../../dist/cli/tokengate.js');
const FIXTURES = path.resolve(__dirname, '../interop/fixtures');

beforeAll(() => {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first (npm test does)`);
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `tokengate ARGS` with only `env` (and PATH) in `cwd`. */
function tokengate(args: string[], env: Record<string, string>, cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

let root: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'tokengate-cli-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** A working directory with its own SQLite data directory and key. */
function workspace(): { cwd: string; env: Record<string, string> } {
  const cwd = fs.mkdtempSync(path.join(root, 'ws-'));
  return { cwd, env: { TOKENGATE_ENCRYPTION_KEY: randomBytes(32).toString('base64') } };
}

describe('tokengate import / export (SQLite, the default store)', () => {
  it("imports each SDK's file with a one-line summary, finds them unchanged the second time, and exports the 10-column form (0600)", async () => {
    const { cwd, env } = workspace();
    const tsFile = path.join(cwd, 'sdk_tokens.txt');
    await writeWithTsSdk(tsFile, [
      { user: 'ts1@example.com', refresh: '1000.ts-r1', access: '1000.ts-a1', expiry: '1767225600000', apiDomain: 'https://www.zohoapis.com' },
      { user: 'ts2@example.com', refresh: '1000.ts-r2' },
    ]);
    // The TS SDK numbered its rows 1 and 2, as the Python fixture did: import them into separate stores below.
    let r = await tokengate(['import', '--format', 'zoho-csv', 'sdk_tokens.txt'], env, cwd);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe(`imported 2, updated 0, unchanged 0 (into the SQLite store ${path.join(fs.realpathSync(cwd), 'data', 'tokengate.db')})\n`);
    for (const f of ['node-sdk_tokens.txt', 'nine-column_tokens.txt']) {
      r = await tokengate(['import', '--format', 'zoho-csv', path.join(FIXTURES, f)], env, cwd);
      expect(r).toMatchObject({ code: 0, stdout: expect.stringMatching(/^imported 2, updated 0, unchanged 0 /) });
    }
    r = await tokengate(['import', '--format', 'zoho-csv', 'sdk_tokens.txt'], env, cwd);
    expect(r.stdout).toMatch(/^imported 0, updated 0, unchanged 2 /);

    r = await tokengate(['export', '--format', 'zoho-csv', 'out.csv'], env, cwd);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^exported 6 tokens from the SQLite store .* to out\.csv \(mode 0600\): the file holds plaintext secrets/);
    const out = path.join(cwd, 'out.csv');
    expect(fs.statSync(out).mode & 0o777).toBe(0o600);
    const text = fs.readFileSync(out, 'utf8');
    expect(text.split('\n')[0]).toBe(ZOHO_CSV_HEADER);
    expect(text.split('\n')).toContain(
      '1,ts1@example.com,1000.TSCLIENT,tssecret,1000.ts-r1,1000.ts-a1,,1767225600000,https://app.example.com/cb,https://www.zohoapis.com',
    );
    expect(text.split('\n')).toContain('8,dave@example.com,1000.NODECLIENT,node"sec\'ret,1000.node-refresh-8,,,,,https://www.zohoapis.in');

    // Not replaced without --force.
    r = await tokengate(['export', '--format', 'zoho-csv', 'out.csv'], env, cwd);
    expect(r).toMatchObject({ code: 1, stdout: '', stderr: 'tokengate: out.csv exists: choose another file, or --force to replace it\n' });
    expect(fs.readFileSync(out, 'utf8')).toBe(text);

    // `-` is standard output: the CSV alone there (the summary on stderr), and no file named `-`.
    r = await tokengate(['export', '--format', 'zoho-csv', '-'], env, cwd);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(text);
    expect(r.stderr).toMatch(/^exported 6 tokens from the SQLite store .* to standard output: it holds plaintext secrets/);
    expect(fs.existsSync(path.join(cwd, '-'))).toBe(false);
  });

  it("round-trips the Python SDK's file (quoted commas and quotes, CRLF) through import, export and import again", async () => {
    const a = workspace();
    let r = await tokengate(['import', '--format', 'zoho-csv', path.join(FIXTURES, 'python-sdk_tokens.txt')], a.env, a.cwd);
    expect(r.stdout).toMatch(/^imported 3, updated 0, unchanged 0 /);
    r = await tokengate(['export', '--format', 'zoho-csv', 'py.csv'], a.env, a.cwd);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: 2 rows hold a value with a comma or a line break, written quoted/);
    const exported = fs.readFileSync(path.join(a.cwd, 'py.csv'), 'utf8');
    expect(exported).toContain(
      '1,alice@example.com,1000.PYCLIENT,"py,secret ""with"" quotes",1000.py-refresh-1,1000.py-access-1,,1767225600000,"https://app.example.com/oauth, callback",https://www.zohoapis.eu',
    );

    // Into another store, with another key: the same tokens; its export is the same file.
    const b = workspace();
    r = await tokengate(['import', '--format', 'zoho-csv', path.join(a.cwd, 'py.csv')], b.env, b.cwd);
    expect(r.stdout).toMatch(/^imported 3, updated 0, unchanged 0 /);
    r = await tokengate(['import', '--format', 'zoho-csv', path.join(FIXTURES, 'python-sdk_tokens.txt')], b.env, b.cwd);
    expect(r.stdout).toMatch(/^imported 0, updated 0, unchanged 3 /);
    await tokengate(['export', '--format', 'zoho-csv', 'again.csv'], b.env, b.cwd);
    expect(fs.readFileSync(path.join(b.cwd, 'again.csv'), 'utf8')).toBe(exported);
  });

  it('writes nothing when a row is invalid, listing the rows by line (exit 1); --skip-invalid imports the rest', async () => {
    const { cwd, env } = workspace();
    fs.writeFileSync(
      path.join(cwd, 'bad.csv'),
      [
        ZOHO_CSV_HEADER,
        '1,a@example.com,1000.C,s,1000.r1,,,,,',
        '2,b@example.com,1000.C,s,1000.r2,,,soon,,',
        '3,c@example.com,1000.C,s,,,,,,',
        '4,d@example.com,1000.C,s,1000.r4,,,,,',
      ].join('\r\n'),
    );
    let r = await tokengate(['import', '--format', 'zoho-csv', 'bad.csv'], env, cwd);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      'tokengate: 2 invalid rows in bad.csv: nothing was imported (fix them, or use --skip-invalid to import the 2 valid rows)\n' +
        '  line 3: expiry_time is not a time in epoch milliseconds\n' +
        '  line 4: holds no access_token, refresh_token or grant_token\n',
    );
    r = await tokengate(['export', '--format', 'zoho-csv', 'none.csv'], env, cwd);
    expect(r.stdout).toMatch(/^exported 0 tokens/);

    r = await tokengate(['import', '--format', 'zoho-csv', '--skip-invalid', 'bad.csv'], env, cwd);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^imported 2, updated 0, unchanged 0, skipped 2 invalid /);
    expect(r.stderr).toMatch(/^tokengate: left out 2 invalid rows of bad\.csv:\n {2}line 3: /);
  });

  it('a dry run says what it would do and writes nothing', async () => {
    const { cwd, env } = workspace();
    const r = await tokengate(['import', '--format', 'zoho-csv', '--dry-run', path.join(FIXTURES, 'node-sdk_tokens.txt')], env, cwd);
    expect(r.stdout).toBe(
      `dry run, nothing written to the SQLite store ${path.join(fs.realpathSync(cwd), 'data', 'tokengate.db')}: would have imported 2, updated 0, unchanged 0\n`,
    );
    expect((await tokengate(['export', '--format', 'zoho-csv', 'x.csv'], env, cwd)).stdout).toMatch(/^exported 0 tokens/);
  });

  it('shows no progress when stderr is not a terminal, even for a large input', async () => {
    const { cwd, env } = workspace();
    const rows = Array.from({ length: 1000 }, (_, i) => `${i + 1},u${i}@example.com,1000.C,s,1000.r${i},,,,,`);
    fs.writeFileSync(path.join(cwd, 'big.csv'), [ZOHO_CSV_HEADER, ...rows].join('\n'));
    const r = await tokengate(['import', '--format', 'zoho-csv', 'big.csv'], env, cwd);
    expect(r).toMatchObject({ code: 0, stderr: '', stdout: expect.stringMatching(/^imported 1000, updated 0, unchanged 0 /) });
  });

  it('fails clearly: a missing file (1), a file without a Zoho header (1), the memory store (2), bad configuration (2), bad usage (2)', async () => {
    const { cwd, env } = workspace();
    let r = await tokengate(['import', '--format', 'zoho-csv', 'nope.csv'], env, cwd);
    expect(r).toMatchObject({ code: 1, stderr: 'tokengate: cannot read nope.csv (ENOENT)\n' });
    expect(fs.existsSync(path.join(cwd, 'data'))).toBe(false); // nothing created for an input that is not there

    fs.writeFileSync(path.join(cwd, 'headerless.csv'), '1,a@example.com,1000.C,TOPSECRET,1000.r,,,,,');
    r = await tokengate(['import', '--format', 'zoho-csv', 'headerless.csv'], env, cwd);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^tokengate: line 1 of headerless\.csv is not a Zoho token header/);
    expect(r.stderr).not.toContain('TOPSECRET');

    r = await tokengate(['import', '--format', 'zoho-csv', path.join(FIXTURES, 'node-sdk_tokens.txt')], { ...env, TOKENGATE_STORE: 'memory' }, cwd);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^tokengate: TOKENGATE_STORE=memory keeps tokens inside one gateway process only/);

    r = await tokengate(['export', '--format', 'zoho-csv', 'x.csv'], { ...env, TOKENGATE_ENCRYPTION_KEY: 'short' }, cwd);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^tokengate: invalid configuration: TOKENGATE_ENCRYPTION_KEY: /);

    // A usage error never quotes an option's value: it may be a key.
    r = await tokengate(['token', '--id', '42', '--api-key=tg_operator_TOPSECRET_0123456789'], env, cwd);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option '--api-key=…'/);
    expect(r.stderr).not.toContain('TOPSECRET');

    r = await tokengate(['import', 'x.csv'], env, cwd);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/required option '--format <format>' not specified/);
    r = await tokengate(['import', '--format', 'zoho-xml', 'x.csv'], env, cwd);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Allowed choices are zoho-csv, zoho-db/);
    r = await tokengate(['import', '--format', 'zoho-db'], env, cwd);
    expect(r).toMatchObject({ code: 2, stderr: expect.stringMatching(/needs --url mysql:\/\//) });

    r = await tokengate(['export', '--format', 'zoho-csv', 'x.csv'], env, cwd);
    expect(r).toMatchObject({ code: 1, stderr: expect.stringMatching(/^tokengate: there is no SQLite store at .*tokengate\.db/) });
  });

  it('refuses an import with the wrong encryption key, as the gateway refuses to start', async () => {
    const { cwd, env } = workspace();
    await tokengate(['import', '--format', 'zoho-csv', path.join(FIXTURES, 'node-sdk_tokens.txt')], env, cwd);
    const r = await tokengate(
      ['import', '--format', 'zoho-csv', path.join(FIXTURES, 'node-sdk_tokens.txt')],
      { ...env, TOKENGATE_ENCRYPTION_KEY: randomBytes(32).toString('base64') },
      cwd,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^tokengate: cannot open the SQLite store .*: the stored tokens were encrypted with key \w+, but the configured encryption key is/,
    );
  });
});

describe('tokengate migrate', () => {
  it('creates the tables once, then says the store is up to date', async () => {
    const { cwd, env } = workspace();
    let r = await tokengate(['migrate'], env, cwd);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^migrated the SQLite store .*tokengate\.db: applied \d+ migrations? \(InitialSchema\d+/);
    r = await tokengate(['migrate'], env, cwd);
    expect(r.stdout).toMatch(/^the SQLite store .*tokengate\.db is up to date\n$/);
  });
});

describe('tokengate token', () => {
  let accounts: FakeAccountsServer;
  let gw: TestGateway;
  beforeAll(async () => {
    accounts = await startFakeAccountsServer();
    accounts.addClient('1000.CLI', 'cli-secret');
    gw = await startTestGateway({ store: 'sqlite', env: { TOKENGATE_ACCOUNTS_URL: accounts.url } });
  });
  afterAll(async () => {
    await gw?.close();
    await accounts?.close();
  });

  it('prints only a valid access token, refreshing it first when needed, then reusing it', async () => {
    const refreshToken = accounts.addRefreshToken('1000.CLI');
    await gw.gql(
      'mutation($t: TokenInput!) { saveToken(token: $t) { id } }',
      { t: { id: 'cli1', clientId: '1000.CLI', clientSecret: 'cli-secret', refreshToken } },
      gw.keys.admin,
    );
    const env = { TOKENGATE_URL: gw.url, TOKENGATE_API_KEY: gw.keys.operator };
    let r = await tokengate(['token', '--id', 'cli1'], env, root);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const issued = accounts.issuedAccessTokens.at(-1)!.accessToken;
    expect(r.stdout).toBe(`${issued}\n`);
    r = await tokengate(['token', '--id', 'cli1'], env, root);
    expect(r.stdout).toBe(`${issued}\n`);
    expect(accounts.count('refresh_token')).toBe(1);

    // --force refreshes; the key can come from a file; --url beats TOKENGATE_URL.
    const keyFile = path.join(root, 'operator.key');
    fs.writeFileSync(keyFile, `${gw.keys.operator}\n`, { mode: 0o600 });
    r = await tokengate(['token', '--id', 'cli1', '--force', '--api-key-file', keyFile, '--url', gw.url], { TOKENGATE_URL: 'http://127.0.0.1:9' }, root);
    expect(r.stdout).toBe(`${accounts.issuedAccessTokens.at(-1)!.accessToken}\n`);
    expect(accounts.count('refresh_token')).toBe(2);

    // --user finds the token by its user name, as Zoho's lookup does.
    const userRefresh = accounts.addRefreshToken('1000.CLI');
    await gw.gql(
      'mutation($t: TokenInput!) { saveToken(token: $t) { id } }',
      { t: { userName: 'cli-user@example.com', clientId: '1000.CLI', clientSecret: 'cli-secret', refreshToken: userRefresh } },
      gw.keys.admin,
    );
    r = await tokengate(['token', '--user', 'cli-user@example.com'], env, root);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe(`${accounts.issuedAccessTokens.at(-1)!.accessToken}\n`);
    expect(accounts.count('refresh_token')).toBe(3);
  });

  it('exits non-zero with the API code on stderr, and nothing on stdout', async () => {
    const env = { TOKENGATE_URL: gw.url, TOKENGATE_API_KEY: gw.keys.operator };
    let r = await tokengate(['token', '--id', 'missing'], env, root);
    expect(r).toMatchObject({ code: 1, stdout: '', stderr: 'tokengate: NOT_FOUND: no token has id "missing"\n' });

    await gw.gql(
      'mutation($t: TokenInput!) { saveToken(token: $t) { id } }',
      { t: { id: 'cli2', clientId: '1000.CLI', clientSecret: 'cli-secret', refreshToken: 'revoked-long-ago' } },
      gw.keys.admin,
    );
    r = await tokengate(['token', '--id', 'cli2'], env, root);
    expect(r).toMatchObject({ code: 1, stdout: '', stderr: expect.stringMatching(/^tokengate: REFRESH_FAILED \(invalid_code\): /) });

    r = await tokengate(['token', '--id', 'cli1'], { TOKENGATE_URL: gw.url, TOKENGATE_API_KEY: 'not-a-valid-key-0000' }, root);
    expect(r).toMatchObject({ code: 1, stdout: '', stderr: expect.stringMatching(/^tokengate: UNAUTHENTICATED: /) });
    expect(r.stderr).not.toContain('not-a-valid-key-0000');

    r = await tokengate(['token', '--id', 'cli1'], { TOKENGATE_URL: gw.url }, root);
    expect(r).toMatchObject({ code: 2, stderr: 'tokengate: no API key: set TOKENGATE_API_KEY (an operator or admin key), or give --api-key-file\n' });

    r = await tokengate(['token'], env, root);
    expect(r).toMatchObject({ code: 2, stderr: 'tokengate: give the token as --id <id> or --user <userName> (one of them)\n' });
    r = await tokengate(['token', '--id', 'cli1', '--user', 'someone@example.com'], env, root);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    r = await tokengate(['token', '--user', 'nobody@example.com'], env, root);
    expect(r).toMatchObject({ code: 1, stdout: '', stderr: 'tokengate: NOT_FOUND: no token has user name "nobody@example.com"\n' });
  });
});

describeWithMysql('tokengate import --format zoho-db (MariaDB)', () => {
  let zoho: ScratchDatabase;
  let target: ScratchDatabase;
  beforeAll(async () => {
    zoho = await createScratchDatabase('tg_cli_zoho');
    target = await createScratchDatabase('tg_cli_store');
    await fillZohoDatabase(zoho);
  });
  afterAll(async () => {
    await zoho?.drop();
    await target?.drop();
  });

  it("imports a DBStore table into tokengate's MySQL store, then finds it unchanged; exports it", async () => {
    const { cwd, env } = workspace();
    const mysqlEnv = { ...env, TOKENGATE_STORE: 'mysql', TOKENGATE_MYSQL_URL: target.url };
    let r = await tokengate(['import', '--format', 'zoho-db', '--url', zoho.url, '--table', 'oauthtoken'], mysqlEnv, cwd);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^imported 3, updated 0, unchanged 0 \(into the MySQL store 127\.0\.0\.1:3306\/tg_cli_store_\w+, table oauthtoken\)\n$/);
    r = await tokengate(['import', '--format', 'zoho-db', '--table', 'oauthtoken'], { ...mysqlEnv, TOKENGATE_IMPORT_URL: zoho.url }, cwd);
    expect(r.stdout).toMatch(/^imported 0, updated 0, unchanged 3 /);
    r = await tokengate(['export', '--format', 'zoho-csv', 'db.csv'], mysqlEnv, cwd);
    expect(r.stdout).toMatch(/^exported 3 tokens/);
    expect(fs.readFileSync(path.join(cwd, 'db.csv'), 'utf8')).toContain('2,db2@example.com,1000.TSCLIENT,tssecret,1000.db-r2,,,,https://app.example.com/cb,');

    r = await tokengate(['import', '--format', 'zoho-db', '--url', zoho.url, '--table', 'missing'], mysqlEnv, cwd);
    expect(r).toMatchObject({ code: 1, stderr: expect.stringMatching(/^tokengate: the table missing does not exist in /) });
  });
});

/**
 * Reading and writing Zoho `FileStore` CSVs. The TypeScript SDK's file is
 * written by the real SDK (`@zohocrm/typescript-sdk-8.0`'s `FileStore`); the
 * Node and Python SDKs' files are fixtures in their formats
 * (`fixtures/python-sdk_tokens.txt` was written by Python's `csv` module as the
 * Python SDK does: CRLF, `redirect_uri`, quoted fields).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { FileStore, type OAuthToken } from '@zohocrm/typescript-sdk-8.0';
import { csvField, readZohoCsv, writeZohoCsv } from '../../src/interop/zoho-csv';
import { rowToInput, ZohoFormatError, ZOHO_CSV_HEADER, type SourceRow } from '../../src/interop/zoho-format';
import type { Token } from '../../src/stores/token';
import { writeWithTsSdk } from './zoho-sdk-files';

const FIXTURES = path.join(__dirname, 'fixtures');
let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tokengate-csv-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function readAll(input: string | Readable): Promise<SourceRow[]> {
  const rows: SourceRow[] = [];
  for await (const r of readZohoCsv(input)) rows.push(r);
  return rows;
}
const fromText = (text: string) => readAll(Readable.from([Buffer.from(text, 'utf8')]));

describe('reading a FileStore CSV', () => {
  it("reads the TypeScript SDK's file (user_mail header, LF, no quoting, no trailing newline), keeping its ids", async () => {
    const file = path.join(dir, 'ts_sdk_tokens.txt');
    await writeWithTsSdk(file, [
      { user: 'ts1@example.com', refresh: '1000.ts-refresh-1', access: '1000.ts-access-1', expiry: '1767225600000', apiDomain: 'https://www.zohoapis.com' },
      { user: 'ts2@example.com', refresh: '1000.ts-refresh-2', secret: 'has"quote' },
    ]);
    const text = fs.readFileSync(file, 'utf8');
    expect(text.startsWith('id,user_mail,')).toBe(true);
    expect(text.endsWith('\n')).toBe(false);
    const rows = await readAll(file);
    expect(rows.map((r) => r.where)).toEqual(['line 2', 'line 3']);
    expect(rows[0]!.values).toEqual({
      id: '1',
      user_name: 'ts1@example.com',
      client_id: '1000.TSCLIENT',
      client_secret: 'tssecret',
      refresh_token: '1000.ts-refresh-1',
      access_token: '1000.ts-access-1',
      grant_token: null,
      expiry_time: '1767225600000',
      redirect_url: 'https://app.example.com/cb',
      api_domain: 'https://www.zohoapis.com',
    });
    expect(rows[1]!.values).toMatchObject({ id: '2', client_secret: 'has"quote', access_token: null, expiry_time: null, api_domain: null });
  });

  it("reads the Node SDK's file (user_name header) with a quote inside an unquoted value", async () => {
    const rows = await readAll(path.join(FIXTURES, 'node-sdk_tokens.txt'));
    expect(rows).toHaveLength(2);
    expect(rows[1]!.values).toMatchObject({ id: '8', user_name: 'dave@example.com', client_secret: 'node"sec\'ret', api_domain: 'https://www.zohoapis.in' });
    expect(rows.every((r) => r.problem === undefined)).toBe(true);
  });

  it("reads the Python SDK's file: CRLF, redirect_uri, quoted values holding commas and quotes", async () => {
    const rows = await readAll(path.join(FIXTURES, 'python-sdk_tokens.txt'));
    expect(rows.map((r) => r.values.id)).toEqual(['1', '2', '3']);
    expect(rows[0]!.values).toMatchObject({
      client_secret: 'py,secret "with" quotes',
      redirect_url: 'https://app.example.com/oauth, callback',
      api_domain: 'https://www.zohoapis.eu',
    });
    expect(rows[1]!.values).toMatchObject({ refresh_token: '1000.py-refresh-2,with-comma', api_domain: null });
    expect(rows[2]!.values).toMatchObject({ user_name: null, grant_token: '1000.py-grant-3' });
    expect(Object.values(rows[0]!.values).some((v) => v?.includes('\r'))).toBe(false);
  });

  it('reads the 9-column form: api_domain is absent (kept on update), not null', async () => {
    const rows = await readAll(path.join(FIXTURES, 'nine-column_tokens.txt'));
    expect(rows).toHaveLength(2);
    expect('api_domain' in rows[0]!.values).toBe(false);
    const converted = rowToInput(rows[0]!.values);
    expect(converted).toEqual({ ok: true, input: expect.not.objectContaining({ apiDomain: expect.anything() }) });
  });

  it('reads the 6-column form (no id, no client secret) and a BOM, and skips empty and "," lines', async () => {
    const rows = await fromText('\ufeffuser_mail,client_id,refresh_token,access_token,grant_token,expiry_time\n\nx@example.com,1000.C,1000.r,,,\n,\n');
    expect(rows).toHaveLength(1);
    expect(rows[0]!.values).toEqual({
      user_name: 'x@example.com',
      client_id: '1000.C',
      refresh_token: '1000.r',
      access_token: null,
      grant_token: null,
      expiry_time: null,
    });
    expect(rowToInput(rows[0]!.values)).toEqual({
      ok: true,
      input: { userName: 'x@example.com', clientId: '1000.C', refreshToken: '1000.r', accessToken: null, grantToken: null, expiresAt: null },
    });
  });

  it('flags a row with more fields than the header (an unquoted comma), with its line number', async () => {
    const rows = await fromText(`${ZOHO_CSV_HEADER}\n1,a@x.com,c,sec,ret,r,a,,,,\n2,b@x.com,c,s,r2,,,,,`);
    expect(rows[0]!.problem).toMatch(/has 11 fields, the header has 10/);
    expect(rows[0]!.where).toBe('line 2');
    expect(rows[1]!.problem).toBeUndefined();
  });

  it('refuses a file without a Zoho header, naming positions and never the values', async () => {
    const err = await fromText('1,a@x.com,c,topsecret,1000.refresh,1000.access,,,,\n').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ZohoFormatError);
    expect((err as Error).message).toMatch(/line 1 of the input is not a Zoho token header/);
    expect((err as Error).message).not.toMatch(/topsecret|1000\.refresh|a@x\.com/);
  });

  it('refuses an empty file, a missing file and an unclosed quote with a clear message', async () => {
    await expect(fromText('')).rejects.toThrow(/is empty/);
    await expect(readAll(path.join(dir, 'nope.txt'))).rejects.toThrow(/does not exist/);
    await expect(fromText(`${ZOHO_CSV_HEADER}\n1,"a@x.com,c,s,r,,,,,`)).rejects.toThrow(/line \d+ of the input: a quoted field is not closed/);
  });
});

describe('converting a row', () => {
  it('turns expiry_time (epoch ms as a string) into an instant, empty fields into null', () => {
    const r = rowToInput({ id: '5', user_name: '', refresh_token: 'r', expiry_time: '1767225600000', api_domain: '' });
    expect(r).toEqual({ ok: true, input: { id: '5', userName: null, refreshToken: 'r', expiresAt: new Date(1767225600000), apiDomain: null } });
  });

  it('lists every problem of a row without quoting a value', () => {
    const r = rowToInput({ id: 'has space', refresh_token: '', access_token: '', expiry_time: 'tomorrow', user_name: 'u'.repeat(300) });
    expect(r.ok).toBe(false);
    const problems = (r as { problems: string[] }).problems;
    expect(problems).toEqual([
      expect.stringMatching(/^id must be/),
      expect.stringMatching(/^user_name is longer than 255/),
      'expiry_time is not a time in epoch milliseconds',
      'holds no access_token, refresh_token or grant_token',
    ]);
    expect(problems.join(' ')).not.toMatch(/tomorrow|has space/);
  });
});

describe('writing a FileStore CSV', () => {
  const token = (over: Partial<Token>): Token => ({
    id: '1',
    userName: 'a@example.com',
    clientId: '1000.C',
    clientSecret: 's',
    refreshToken: '1000.r',
    accessToken: '1000.a',
    grantToken: null,
    expiresAt: new Date(1767225600000),
    redirectUrl: 'https://app.example.com/cb',
    apiDomain: 'https://www.zohoapis.com',
    accountsUrl: 'https://accounts.zoho.com',
    lastRefreshedAt: null,
    lastError: null,
    failedAt: null,
    provider: 'zoho',
    throttledUntil: null,
    client: null,
    createdAt: new Date(),
    updatedAt: new Date(),
    version: 1,
    ...over,
  });
  async function* iter(tokens: Token[]) {
    yield* tokens;
  }

  it('writes the 10-column form as the TypeScript SDK does, mode 0600, quoting only what needs it', async () => {
    const file = path.join(dir, 'export.txt');
    const result = await writeZohoCsv(file, iter([token({}), token({ id: '2', userName: null, clientSecret: 'a,"b"', accessToken: null, expiresAt: null })]));
    expect(result).toEqual({ count: 2, quotedRows: 1 });
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(file, 'utf8')).toBe(
      `${ZOHO_CSV_HEADER}\n1,a@example.com,1000.C,s,1000.r,1000.a,,1767225600000,https://app.example.com/cb,https://www.zohoapis.com\n2,,1000.C,"a,""b""",1000.r,,,,https://app.example.com/cb,https://www.zohoapis.com`,
    );
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('refuses to replace an existing file unless asked, and leaves it as it was', async () => {
    const file = path.join(dir, 'existing.txt');
    fs.writeFileSync(file, 'keep me');
    await expect(writeZohoCsv(file, iter([token({})]))).rejects.toThrow(/exists/);
    expect(fs.readFileSync(file, 'utf8')).toBe('keep me');
    await writeZohoCsv(file, iter([token({})]), { overwrite: true });
    expect(fs.readFileSync(file, 'utf8').startsWith(ZOHO_CSV_HEADER)).toBe(true);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it("is read back by the TypeScript SDK's own FileStore", async () => {
    const file = path.join(dir, 'for-sdk.txt');
    await writeZohoCsv(file, iter([token({}), token({ id: '2', userName: 'b@example.com', refreshToken: '1000.r2', accessToken: null })]));
    const sdk = new FileStore(file);
    const found = (await sdk.findTokenById('2')) as OAuthToken;
    expect(found.getUserSignature()?.getName()).toBe('b@example.com');
    expect(found.getRefreshToken()).toBe('1000.r2');
    expect(found.getAccessToken()).toBeNull();
    const all = (await sdk.getTokens()) as OAuthToken[];
    expect(all.map((t) => [t.getId(), t.getExpiresIn()])).toEqual([
      ['1', '1767225600000'],
      ['2', '1767225600000'],
    ]);
  });

  it('quotes exactly the values holding a comma or a line break, or starting with a quote', () => {
    expect(csvField(null)).toBe('');
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('say "hi"');
    expect(csvField('"quoted" start')).toBe('"""quoted"" start"');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
  });
});

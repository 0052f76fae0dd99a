/**
 * The connect flow from `tokengate/client` (a backend starting a connect for
 * its frontend) and from the `tokengate connect` command (a person at a
 * terminal), against a running gateway and the fake Zoho with its consent step.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { TokengateClient, TokengateError } from '../../src/client';
import { startFakeAccountsServer, type FakeAccountsServer } from '../support/fake-accounts-server';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { freePort } from '../support/process-gateway';
import { consent, hop, outcomeOf } from '../support/connect-flow';

const CLI = path.resolve(__dirname, '../../dist/cli/tokengate.js');

let zoho: FakeAccountsServer;
let gw: TestGateway;
let admin: TokengateClient;
let operator: TokengateClient;

beforeAll(async () => {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first (npm test does)`);
  zoho = await startFakeAccountsServer();
  zoho.addClient('1000.CRMCLIENT', 'crm-client-secret-0123456789');
  const port = await freePort();
  gw = await startTestGateway({
    store: 'sqlite',
    port,
    env: { TOKENGATE_ACCOUNTS_URL: zoho.url, TOKENGATE_PUBLIC_URL: `http://127.0.0.1:${port}`, TOKENGATE_CONNECT_RETURN_ORIGINS: 'https://app.example.com' },
  });
  admin = new TokengateClient({ url: gw.url, apiKey: gw.keys.admin });
  operator = new TokengateClient({ url: gw.url, apiKey: gw.keys.operator });
});

afterAll(async () => {
  await gw?.close();
  await zoho?.close();
});

describe('tokengate/client', () => {
  it('registers, lists, reads and deletes OAuth clients, with typed results', async () => {
    const saved = await admin.saveClient({
      name: 'crm',
      clientId: '1000.CRMCLIENT',
      clientSecret: 'crm-client-secret-0123456789',
      scopes: ['ZohoCRM.modules.ALL'],
    });
    expect(saved).toMatchObject({
      name: 'crm',
      provider: 'zoho',
      clientId: '1000.CRMCLIENT',
      scopes: ['ZohoCRM.modules.ALL'],
      redirectUrl: `${gw.url}/oauth/callback`,
      accountsUrl: zoho.url,
    });
    expect(saved.createdAt).toBeInstanceOf(Date);
    expect('clientSecret' in saved).toBe(false);
    expect((await operator.listClients()).map((c) => c.name)).toEqual(['crm']);
    expect((await admin.getClient('crm', { secret: true }))!.clientSecret).toBe('crm-client-secret-0123456789');
    expect(await operator.getClient('nope')).toBeNull();
    const refused = await operator.getClient('crm', { secret: true }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TokengateError);
    expect((refused as TokengateError).code).toBe('FORBIDDEN');

    await admin.saveClient({ name: 'spare', clientId: '1000.SPARE', clientSecret: 'spare-secret-value' });
    expect(await admin.deleteClient('spare')).toBe(true);
    expect(await admin.deleteClient('spare')).toBe(false);
  });

  it('starts a connect for a backend: the consent URL to send the browser to, the outcome back at returnTo', async () => {
    const started = await operator.startConnect({ client: 'crm', userName: 'ana@example.com', returnTo: 'https://app.example.com/settings' });
    expect(started.expiresAt).toBeInstanceOf(Date);
    expect(started.authorizationUrl.startsWith(`${zoho.url}/oauth/v2/auth?`)).toBe(true);
    const outcome = outcomeOf((await hop((await consent(started.authorizationUrl)).toString())).location);
    expect(outcome.connect).toBe('ok');
    expect(await operator.getToken(outcome.token!)).toMatchObject({ userName: 'ana@example.com', status: 'ACTIVE' });

    const err = await operator.startConnect({ client: 'crm', userName: 'x@example.com', returnTo: 'https://evil.example/' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TokengateError);
    expect((err as TokengateError).code).toBe('BAD_USER_INPUT');
  });
});

/** Runs `tokengate ARGS` with only `env` (and PATH). */
function tokengate(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

describe('tokengate connect', () => {
  it('prints only the consent URL; once the person consents, the gateway shows that the account is connected', async () => {
    const r = await tokengate(['connect', '--client', 'crm', '--user', 'terminal@example.com'], { TOKENGATE_URL: gw.url, TOKENGATE_API_KEY: gw.keys.operator });
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const url = new URL(lines[0]!);
    expect(`${url.origin}${url.pathname}`).toBe(`${zoho.url}/oauth/v2/auth`);
    expect(url.searchParams.get('scope')).toBe('ZohoCRM.modules.ALL');
    expect(r.stderr).toMatch(/^open the URL above in a browser and consent, before \d{4}-/);

    const page = await hop((await consent(url.toString())).toString());
    expect(page.status).toBe(200);
    expect(page.text).toContain('Account connected');
    const token = await operator.getToken({ userName: 'terminal@example.com' });
    expect(token).toMatchObject({ status: 'ACTIVE' });
  });

  it('takes the client by id too, scopes and a return URL', async () => {
    const client = (await operator.listClients())[0]!;
    const r = await tokengate(
      [
        'connect',
        '--client',
        client.id,
        '--user',
        'scoped@example.com',
        '--scope',
        'ZohoCRM.users.READ, ZohoCRM.org.READ',
        '--return-to',
        'https://app.example.com/back',
      ],
      {
        TOKENGATE_URL: gw.url,
        TOKENGATE_API_KEY: gw.keys.operator,
      },
    );
    expect(r.code).toBe(0);
    expect(new URL(r.stdout.trim()).searchParams.get('scope')).toBe('ZohoCRM.users.READ,ZohoCRM.org.READ');
    expect(r.stderr).toContain('https://app.example.com/back');
  });

  it('exits non-zero with the API code on stderr and nothing on stdout', async () => {
    const env = { TOKENGATE_URL: gw.url, TOKENGATE_API_KEY: gw.keys.operator };
    expect(await tokengate(['connect', '--client', 'nope', '--user', 'a@example.com'], env)).toMatchObject({
      code: 1,
      stdout: '',
      stderr: expect.stringMatching(/^tokengate: NOT_FOUND: no OAuth client is named "nope"/),
    });
    expect(await tokengate(['connect', '--client', 'crm'], env)).toMatchObject({ code: 2, stdout: '' });
    expect(
      await tokengate(['connect', '--client', 'crm', '--user', 'a@example.com'], { TOKENGATE_URL: gw.url, TOKENGATE_API_KEY: gw.keys.viewer }),
    ).toMatchObject({ code: 1, stderr: expect.stringMatching(/^tokengate: FORBIDDEN: /) });
  });
});

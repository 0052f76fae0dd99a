/**
 * The whole connect flow over HTTP, with Zoho's data centers at their own
 * names: the fake Zoho Accounts server serves HTTPS with a certificate for
 * accounts.zoho.com and accounts.zoho.eu, and the gateway's provider client
 * (and this test, as the browser) connect those host names to it, as a hosts
 * file would. The consent screen is the US one (the client's accounts
 * server); Zoho sends the browser back naming the EU data center, where the
 * code must be exchanged (the fake binds it there) and the token then refreshes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startFakeAccountsServer, type FakeAccountsServer } from '../support/fake-accounts-server';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { pinnedFetch } from '../support/pinned-fetch';
import { freePort } from '../support/process-gateway';
import { SAVE_CLIENT, START_CONNECT, consent, hop, outcomeOf } from '../support/connect-flow';
import { startWebhookReceiver, type WebhookReceiver } from '../webhooks/webhook-receiver';

const fixtures = path.join(__dirname, '../support/fixtures');
const key = fs.readFileSync(path.join(fixtures, 'zoho-dc-test.key'));
const cert = fs.readFileSync(path.join(fixtures, 'zoho-dc-test.crt'));
const CLIENT_SECRET = 'crm-client-secret-0123456789';

let zoho: FakeAccountsServer;
let browser: typeof fetch;
let gw: TestGateway;
let hooks: WebhookReceiver;
let publicUrl: string;

beforeAll(async () => {
  zoho = await startFakeAccountsServer({
    tls: { key, cert },
    apiDomain: 'https://www.zohoapis.eu',
    consentAccountsServer: 'https://accounts.zoho.eu',
    consentLocation: 'eu',
  });
  zoho.addClient('1000.CRMCLIENT', CLIENT_SECRET);
  const port = Number(new URL(zoho.url).port);
  browser = pinnedFetch({ 'accounts.zoho.com': { port, ca: cert }, 'accounts.zoho.eu': { port, ca: cert } });
  hooks = await startWebhookReceiver();
  const gatewayPort = await freePort();
  publicUrl = `http://127.0.0.1:${gatewayPort}`;
  gw = await startTestGateway({
    store: 'sqlite',
    port: gatewayPort,
    env: {
      TOKENGATE_PUBLIC_URL: publicUrl,
      TOKENGATE_CONNECT_RETURN_ORIGINS: 'https://app.example.com',
      TOKENGATE_WEBHOOK_URL: hooks.url,
      TOKENGATE_WEBHOOK_SECRET: 'whsec-0123456789abcdef',
    },
    // The gateway reaches accounts.zoho.com and accounts.zoho.eu at the fake (a hosts-file entry, in effect).
    deps: { fetch: browser },
  });
});

afterAll(async () => {
  await gw?.close();
  await zoho?.close();
  await hooks?.close();
});

describe('connecting a Zoho account of the EU data center', () => {
  let tokenId: string;
  let callbackUrl: URL;

  it("registers the client (admin): the redirect URL is the gateway's callback, the consent screen the default accounts server", async () => {
    const { body } = await gw.gql(
      SAVE_CLIENT,
      { client: { name: 'crm', clientId: '1000.CRMCLIENT', clientSecret: CLIENT_SECRET, scopes: ['ZohoCRM.modules.ALL', 'ZohoCRM.settings.READ'] } },
      gw.keys.admin,
    );
    expect(body.errors).toBeUndefined();
    expect(body.data.saveClient).toMatchObject({
      name: 'crm',
      provider: 'zoho',
      clientId: '1000.CRMCLIENT',
      redirectUrl: `${publicUrl}/oauth/callback`,
      accountsUrl: 'https://accounts.zoho.com',
    });
  });

  it('startConnect → consent (US screen, EU user) → callback leaves one ACTIVE token whose accountsUrl is the EU server', async () => {
    const started = await gw.gql(
      START_CONNECT,
      { input: { client: 'crm', userName: 'ana@example.eu', returnTo: 'https://app.example.com/settings?tab=crm' } },
      gw.keys.operator,
    );
    expect(started.body.errors).toBeUndefined();
    const { authorizationUrl, expiresAt } = started.body.data.startConnect;
    const auth = new URL(authorizationUrl);
    expect(`${auth.origin}${auth.pathname}`).toBe('https://accounts.zoho.com/oauth/v2/auth');
    expect(Object.fromEntries(auth.searchParams)).toEqual({
      response_type: 'code',
      client_id: '1000.CRMCLIENT',
      scope: 'ZohoCRM.modules.ALL,ZohoCRM.settings.READ',
      redirect_uri: `${publicUrl}/oauth/callback`,
      access_type: 'offline',
      prompt: 'consent',
      state: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    });
    // Ten minutes to come back.
    expect(new Date(expiresAt).getTime() - Date.now()).toBeGreaterThan(590_000);
    expect(new Date(expiresAt).getTime() - Date.now()).toBeLessThanOrEqual(600_000);

    callbackUrl = await consent(authorizationUrl, browser);
    expect(zoho.requests.at(-1)).toMatchObject({ path: '/oauth/v2/auth', host: 'accounts.zoho.com' });
    expect(`${callbackUrl.origin}${callbackUrl.pathname}`).toBe(`${publicUrl}/oauth/callback`);
    expect(callbackUrl.searchParams.get('accounts-server')).toBe('https://accounts.zoho.eu');

    const back = await hop(callbackUrl.toString());
    expect(back.status).toBe(302);
    expect(back.headers.get('cache-control')).toBe('no-store');
    expect(back.headers.get('referrer-policy')).toBe('no-referrer');
    const outcome = outcomeOf(back.location);
    expect(outcome.url.origin + outcome.url.pathname).toBe('https://app.example.com/settings');
    expect(outcome.url.searchParams.get('tab')).toBe('crm');
    expect(outcome.connect).toBe('ok');
    tokenId = outcome.token!;

    // Exchanged once, at the EU data center (where the fake bound the code).
    expect(zoho.count('authorization_code')).toBe(1);
    expect(zoho.requests.find((r) => r.grantType === 'authorization_code')).toMatchObject({
      host: 'accounts.zoho.eu',
      encoding: 'urlencoded',
      clientId: '1000.CRMCLIENT',
    });

    const { body } = await gw.gql(
      `query($id: ID!) { tokenById(id: $id) { id userName status accountsUrl apiDomain provider client clientId hasRefreshToken hasAccessToken } tokens { nodes { id } } }`,
      { id: tokenId },
      gw.keys.viewer,
    );
    expect(body.data.tokens.nodes).toEqual([{ id: tokenId }]);
    expect(body.data.tokenById).toEqual({
      id: tokenId,
      userName: 'ana@example.eu',
      status: 'ACTIVE',
      accountsUrl: 'https://accounts.zoho.eu',
      apiDomain: 'https://www.zohoapis.eu',
      provider: 'zoho',
      client: 'crm',
      clientId: '1000.CRMCLIENT',
      hasRefreshToken: true,
      hasAccessToken: true,
    });
    const stored = await gw.gateway.stores.tokens.findTokenById(tokenId);
    expect(stored!.accessToken).toBe(zoho.issuedAccessTokens[0]!.accessToken);
    expect(stored!.clientSecret).toBe(CLIENT_SECRET);
  });

  it('refreshes the token at the EU data center next', async () => {
    const { body } = await gw.gql(`mutation($id: ID!) { refresh(id: $id) { status accessToken accountsUrl } }`, { id: tokenId }, gw.keys.operator);
    expect(body.errors).toBeUndefined();
    expect(body.data.refresh).toEqual({ status: 'ACTIVE', accessToken: zoho.issuedAccessTokens.at(-1)!.accessToken, accountsUrl: 'https://accounts.zoho.eu' });
    const refreshes = zoho.requests.filter((r) => r.grantType === 'refresh_token');
    expect(refreshes).toHaveLength(1);
    expect(refreshes[0]).toMatchObject({ host: 'accounts.zoho.eu' });
  });

  it('records CONNECT by the key that started it, and sends token.connected', async () => {
    const { body } = await gw.gql(
      `query($id: ID!) { auditLog(tokenId: $id) { nodes { action actorRole actorName outcome detail fields } } }`,
      { id: tokenId },
      gw.keys.admin,
    );
    const connect = body.data.auditLog.nodes.filter((e: { action: string }) => e.action === 'CONNECT');
    expect(connect).toEqual([
      expect.objectContaining({ action: 'CONNECT', actorRole: 'operator', actorName: 'operator-1', outcome: 'OK', detail: 'connected' }),
    ]);
    const deliveries = await hooks.waitFor(1);
    expect(deliveries.map((d) => d.body.type)).toContain('token.connected');
    const event = deliveries.find((d) => d.body.type === 'token.connected')!.body;
    expect(event.token).toMatchObject({ id: tokenId, userName: 'ana@example.eu', status: 'ACTIVE' });
  });

  it('refuses the same callback a second time with the offline page (400), and exchanges nothing', async () => {
    const before = await gw.gateway.stores.tokens.findTokenById(tokenId);
    const again = await hop(callbackUrl.toString());
    expect(again.status).toBe(400);
    expect(again.location).toBeNull();
    expect(again.text).toContain('This link has expired or was already used');
    expect(again.headers.get('content-security-policy')).toBe("default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    expect(zoho.count('authorization_code')).toBe(1);
    expect(await gw.gateway.stores.tokens.findTokenById(tokenId)).toEqual(before);
  });

  it('writes no secret, code or state to the log', async () => {
    const logs = gw.logs();
    const stored = await gw.gateway.stores.tokens.findTokenById(tokenId);
    for (const secret of [
      CLIENT_SECRET,
      callbackUrl.searchParams.get('code')!,
      callbackUrl.searchParams.get('state')!,
      stored!.refreshToken!,
      stored!.accessToken!,
    ]) {
      expect(logs).not.toContain(secret);
    }
    expect(logs).toContain('account connected');
  });
});

/**
 * `tokengate/zoho` under the real Zoho SDK (`@zohocrm/typescript-sdk-8.0`):
 * the SDK's own token flow — `InitializeBuilder` with the adapter as its
 * store, an environment whose accounts URL is a fake Zoho Accounts server,
 * `OAuthToken.getToken()` — finds, refreshes and saves through a running
 * gateway.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DataCenter, InitializeBuilder, OAuthBuilder, OAuthToken, SDKException, UserSignature } from '@zohocrm/typescript-sdk-8.0';
import { TokengateClient, TokengateError } from '../../src/client';
import { TokengateZohoStore } from '../../src/zoho';
import { startFakeAccountsServer, type FakeAccountsServer } from '../support/fake-accounts-server';
import { startTestGateway, type TestGateway } from '../support/gateway';

const CLIENT_ID = '1000.ZOHOAPP';
const CLIENT_SECRET = 'zoho-app-secret';

let accounts: FakeAccountsServer;
let gw: TestGateway;
let admin: TokengateClient;
let resourceDir: string;

beforeAll(async () => {
  accounts = await startFakeAccountsServer();
  // An API domain that names no Zoho data center, so the SDK keeps the fake environment.
  accounts.configure({ apiDomain: accounts.url });
  accounts.addClient(CLIENT_ID, CLIENT_SECRET);
  gw = await startTestGateway({ store: 'sqlite', env: { TOKENGATE_ACCOUNTS_URL: accounts.url } });
  admin = new TokengateClient({ url: gw.url, apiKey: gw.keys.admin, secrets: 'all' });
  resourceDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tokengate-zoho-sdk-'));
});
afterAll(async () => {
  await gw?.close();
  await accounts?.close();
  fs.rmSync(resourceDir, { recursive: true, force: true });
});

/**
 * Initializes the SDK as an app would, with the adapter as its store and the
 * fake Accounts server. `initialize()` itself runs the SDK's token flow once
 * (`token.generateToken()`): that is the first find/refresh/save.
 */
async function initializeSdk(store: TokengateZohoStore, token: OAuthToken): Promise<void> {
  const env = DataCenter.setEnvironment(accounts.url, `${accounts.url}/oauth/v2/token`, accounts.url);
  await new InitializeBuilder().environment(env).token(token).store(store).resourcePath(resourceDir).initialize();
}

const operatorStore = (options: Partial<ConstructorParameters<typeof TokengateZohoStore>[0]> = {}) =>
  new TokengateZohoStore({ url: gw.url, apiKey: gw.keys.operator, ...options });

describe('TokengateZohoStore under the Zoho SDK', () => {
  it("gateway mode: the SDK's getToken finds the token and gets the gateway's refresh; the SDK itself never calls Accounts", async () => {
    const refreshToken = accounts.addRefreshToken(CLIENT_ID);
    await admin.saveToken({
      id: 'g1',
      userName: 'g1@example.com',
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      refreshToken,
      accessToken: '1000.expired',
      expiresAt: new Date(Date.now() - 60_000),
    });
    const sdkToken = new OAuthBuilder().clientId(CLIENT_ID).clientSecret(CLIENT_SECRET).refreshToken(refreshToken).findUser(false).build() as OAuthToken;
    accounts.resetRequests();
    await initializeSdk(operatorStore(), sdkToken);

    const accessToken = await sdkToken.getToken();
    expect(accessToken).toBe(accounts.issuedAccessTokens.at(-1)!.accessToken);
    expect(accounts.count('refresh_token')).toBe(1);
    expect(accounts.requests[0]!.encoding).toBe('urlencoded'); // the gateway's request (the SDK posts multipart form-data)
    expect(sdkToken.getId()).toBe('g1');
    expect(sdkToken.getUserSignature()?.getName()).toBe('g1@example.com');
    expect(Number(sdkToken.getExpiresIn())).toBeGreaterThan(Date.now() + 3_000_000);
    expect((await admin.getToken('g1'))!.accessToken).toBe(accessToken);

    // Valid now: the next call is answered from the gateway without a refresh.
    expect(await sdkToken.getToken()).toBe(accessToken);
    expect(accounts.count('refresh_token')).toBe(1);
  });

  it('gateway mode: many app instances asking at once share one refresh', async () => {
    const refreshToken = accounts.addRefreshToken(CLIENT_ID);
    await admin.saveToken({
      id: 'g2',
      userName: 'g2@example.com',
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      refreshToken,
      expiresAt: new Date(Date.now() - 1000),
    });
    accounts.configure({ delayMs: 300 });
    try {
      // Each "instance" has its own adapter and its own SDK token for the same user.
      const instances = Array.from({ length: 8 }, () => ({
        store: operatorStore(),
        token: new OAuthBuilder().userSignature(new UserSignature('g2@example.com')).findUser(false).build() as OAuthToken,
      }));
      await initializeSdk(instances[0]!.store, new OAuthBuilder().accessToken('1000.unrelated').findUser(false).build() as OAuthToken);
      accounts.resetRequests();
      const got = await Promise.all(instances.map((i) => i.token.getToken()));
      expect(new Set(got).size).toBe(1);
      expect(accounts.count('refresh_token')).toBe(1);
      expect(accounts.requests.map((r) => r.encoding)).toEqual(['urlencoded']);
    } finally {
      accounts.configure({ delayMs: 0 });
    }
  });

  it('a token the gateway does not know yet: the SDK exchanges its grant token itself and saves the result through the adapter', async () => {
    const grant = accounts.issueGrantCode(CLIENT_ID);
    const sdkToken = new OAuthBuilder()
      .clientId(CLIENT_ID)
      .clientSecret(CLIENT_SECRET)
      .grantToken(grant)
      .userSignature(new UserSignature('new@example.com'))
      .findUser(false)
      .build() as OAuthToken;
    accounts.resetRequests();
    await initializeSdk(operatorStore(), sdkToken);
    const accessToken = await sdkToken.getToken();
    expect(accounts.count('authorization_code')).toBe(1);
    expect(accounts.count('refresh_token')).toBe(0);
    const id = sdkToken.getId();
    expect(id).toEqual(expect.any(String)); // the gateway's id, set on the SDK's token
    const stored = (await admin.getToken(id!))!;
    expect(stored).toMatchObject({
      userName: 'new@example.com',
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      accessToken,
      status: 'ACTIVE',
      grantToken: null,
      apiDomain: accounts.url,
    });
    expect(stored.refreshToken).toBe(accounts.issuedAccessTokens.at(-1)!.refreshToken);
    expect(Math.abs(stored.expiresAt!.getTime() - (Date.now() + 3600_000))).toBeLessThan(60_000);
  });

  it('sdk mode: the SDK finds the expired token through the adapter, refreshes it at its accounts URL, and saves it through the gateway', async () => {
    const refreshToken = accounts.addRefreshToken(CLIENT_ID);
    await admin.saveToken({
      id: 's1',
      userName: 's1@example.com',
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      refreshToken,
      accessToken: '1000.old',
      expiresAt: new Date(Date.now() - 60_000),
    });
    // An app that names only the token id, with an admin key so the adapter can give the SDK the refresh token and client secret.
    const store = new TokengateZohoStore({ url: gw.url, apiKey: gw.keys.admin, refresh: 'sdk', readSecrets: true });
    const sdkToken = new OAuthBuilder().id('s1').findUser(false).build() as OAuthToken;
    accounts.resetRequests();
    await initializeSdk(store, sdkToken);
    const accessToken = await sdkToken.getToken();
    expect(accessToken).not.toBe('1000.old');
    expect(accounts.count('refresh_token')).toBe(1); // the SDK's own
    expect(accounts.requests[0]!.encoding).toBe('multipart'); // the SDK posts form-data; the gateway posts urlencoded
    const stored = (await admin.getToken('s1'))!;
    expect(stored).toMatchObject({ accessToken, status: 'ACTIVE', userName: 's1@example.com', refreshToken });
  });

  it('gateway mode, provider unreachable: an expired token is never handed to the SDK (SDKException TOKEN_STORE naming the code); a still valid one is', async () => {
    await admin.saveToken({
      id: 'down1',
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      refreshToken: accounts.addRefreshToken(CLIENT_ID),
      accessToken: '1000.down-expired',
      expiresAt: new Date(Date.now() - 60_000),
    });
    // Inside the gateway's refresh-ahead window (so it tries to refresh), but valid for the SDK.
    await admin.saveToken({
      id: 'down2',
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      refreshToken: accounts.addRefreshToken(CLIENT_ID),
      accessToken: '1000.down-valid',
      expiresAt: new Date(Date.now() + 120_000),
    });
    accounts.setFailure('http500');
    try {
      const store = operatorStore();
      const err = (await store.findTokenById('down1').then(
        (t) => t,
        (e: unknown) => e,
      )) as Error;
      expect(err).toBeInstanceOf(SDKException);
      expect(err.message).toMatch(/tokengate could not refresh token down1 \(UPSTREAM_UNAVAILABLE: .*\) and its stored access token has expired/);
      expect((err as unknown as { cause: TokengateError }).cause).toBeInstanceOf(TokengateError);

      const sdkToken = new OAuthBuilder().id('down1').build() as OAuthToken;
      await expect(store.findToken(sdkToken)).resolves.toBeNull(); // no user name or secret to match by: nothing to find
      expect(((await store.findTokenById('down2')) as OAuthToken).getAccessToken()).toBe('1000.down-valid');
    } finally {
      accounts.setFailure('none');
    }
  });

  it('findTokenById in gateway mode returns a fresh token; null for an unknown id', async () => {
    const refreshToken = accounts.addRefreshToken(CLIENT_ID);
    await admin.saveToken({ id: 'i1', clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, refreshToken });
    const store = operatorStore();
    const found = (await store.findTokenById('i1')) as OAuthToken;
    expect(found).toBeInstanceOf(OAuthToken);
    expect(found.getAccessToken()).toBe(accounts.issuedAccessTokens.at(-1)!.accessToken);
    expect(found.getRefreshToken()).toBeNull(); // an operator key reads no refresh token
    expect(await store.findTokenById('unknown')).toBeNull();
  });

  it('getTokens, deleteToken and deleteTokens map to the API; failures are SDKExceptions carrying the TokengateError', async () => {
    const store = new TokengateZohoStore({ url: gw.url, apiKey: gw.keys.admin, readSecrets: true });
    const all = (await store.getTokens()) as OAuthToken[];
    expect(all.every((t) => t instanceof OAuthToken)).toBe(true);
    expect(all.map((t) => t.getId())).toEqual(expect.arrayContaining(['g1', 'g2', 's1', 'i1']));
    expect(all.find((t) => t.getId() === 's1')!.getClientSecret()).toBe(CLIENT_SECRET);

    await store.deleteToken('i1');
    await store.deleteToken('i1'); // an unknown id is not an error
    expect(await admin.getToken('i1')).toBeNull();

    const err = (await operatorStore()
      .deleteTokens()
      .catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(SDKException);
    expect(err.message).toMatch(/tokengate deleteTokens failed: FORBIDDEN/);
    expect((err as unknown as { cause: TokengateError }).cause).toBeInstanceOf(TokengateError);
    expect(JSON.stringify(err)).not.toContain(gw.keys.operator);

    await store.deleteTokens();
    expect(await store.getTokens()).toEqual([]);
  });
});

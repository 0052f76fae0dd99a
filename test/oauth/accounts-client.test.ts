/**
 * The AccountsClient against a real HTTP server (the fake Accounts server):
 * real fetch, real sockets, real timeouts — nothing stubbed.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { AccountsClient, type AccountsClientOptions, type AttemptInfo } from '../../src/oauth/accounts-client';
import { AccountsUrlPolicy } from '../../src/oauth/accounts-url-policy';
import { AccountsUrlNotAllowedError, InvalidResponseError, OAuthError, ProviderRefusedError, UpstreamUnavailableError } from '../../src/oauth/oauth-errors';
import { zohoProfile } from '../../src/providers/zoho';
import { startFakeAccountsServer, type FakeAccountsServer } from '../support/fake-accounts-server';

const CLIENT_ID = '1000.TESTCLIENT';
const CLIENT_SECRET = 'client-secret-0123456789abcdef';

/** A Zoho target at an accounts URL (the gateway takes the profile from its registry; the client's calls are the same). */
const ZOHO = zohoProfile();
const zoho = (accountsUrl: string) => ({ provider: ZOHO, accountsUrl });

let server: FakeAccountsServer;
/** Not on the allow-list: must never receive a request. */
let outsider: FakeAccountsServer;
/** A port nothing listens on (connection refused). */
let deadUrl: string;
/** A server on the allow-list that redirects every POST to the outsider. */
let redirector: http.Server;
let redirectorUrl: string;
/** Every error a test saw, checked for secrets at the end. */
const seenErrors: unknown[] = [];
/** Every secret a test used. */
const secrets = new Set<string>([CLIENT_SECRET]);

beforeAll(async () => {
  server = await startFakeAccountsServer();
  outsider = await startFakeAccountsServer();
  outsider.addClient(CLIENT_ID, CLIENT_SECRET);

  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  deadUrl = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
  await new Promise<void>((resolve) => probe.close(() => resolve()));

  redirector = http.createServer((req, res) => {
    req.resume();
    res.writeHead(307, { location: `${outsider.url}${req.url ?? '/'}` });
    res.end();
  });
  await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
  redirectorUrl = `http://127.0.0.1:${(redirector.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await server.close();
  await outsider.close();
  redirector.closeAllConnections();
  await new Promise<void>((resolve) => redirector.close(() => resolve()));
});

beforeEach(() => {
  server.setFailure('none');
  server.configure({ rotateRefreshTokens: false, delayMs: 0, expiresIn: 3600, useExpiresInSec: false });
  server.resetRequests();
  server.addClient(CLIENT_ID, CLIENT_SECRET);
});

function client(options: Partial<AccountsClientOptions> = {}, attempts?: AttemptInfo[]): AccountsClient {
  const policy = new AccountsUrlPolicy({ defaultAccountsUrl: server.url, allowed: [deadUrl, redirectorUrl] });
  return new AccountsClient({
    policy,
    timeoutMs: 2_000,
    baseDelayMs: 5,
    maxDelayMs: 20,
    ...(attempts ? { onAttempt: (info) => attempts.push(info) } : {}),
    ...options,
  });
}

function refreshToken(): string {
  const token = server.addRefreshToken(CLIENT_ID);
  secrets.add(token);
  return token;
}

function grantCode(options?: { redirectUri?: string; ttlMs?: number }): string {
  const code = server.issueGrantCode(CLIENT_ID, options);
  secrets.add(code);
  return code;
}

async function failure<T extends OAuthError>(promise: Promise<unknown>, type: abstract new (...args: never[]) => T): Promise<T> {
  const err = await promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e,
  );
  seenErrors.push(err);
  expect(err).toBeInstanceOf(type);
  return err as T;
}

describe('refresh', () => {
  it('gets a new access token, with the headers and encoding of the protocol', async () => {
    const rt = refreshToken();
    const before = Date.now();
    const grant = await client().refresh(zoho(server.url), { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, refreshToken: rt });
    expect(grant.accessToken).toBe(server.issuedAccessTokens.at(-1)!.accessToken);
    expect(server.issuedAccessTokens.at(-1)).toMatchObject({ clientId: CLIENT_ID, via: 'refresh', refreshToken: rt });
    expect(grant.tokenType).toBe('Bearer');
    expect(grant.apiDomain).toBe('https://www.zohoapis.com');
    expect(grant.refreshToken).toBeUndefined();
    expect(grant.expiresAt!.getTime()).toBeGreaterThanOrEqual(before + 3600_000);
    expect(server.requests).toEqual([
      expect.objectContaining({
        path: '/oauth/v2/token',
        grantType: 'refresh_token',
        clientId: CLIENT_ID,
        encoding: 'urlencoded',
        contentType: 'application/x-www-form-urlencoded',
        accept: 'application/json',
      }),
    ]);
  });

  it('counts expiresAt from when the request was sent, not when the answer came', async () => {
    server.configure({ delayMs: 300, expiresIn: 600, useExpiresInSec: true });
    const before = Date.now();
    const grant = await client().refresh(zoho(server.url), { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, refreshToken: refreshToken() });
    const after = Date.now();
    expect(after - before).toBeGreaterThanOrEqual(290);
    expect(grant.expiresAt!.getTime()).toBeGreaterThanOrEqual(before + 600_000);
    expect(grant.expiresAt!.getTime()).toBeLessThanOrEqual(before + 600_000 + 100);
    expect(grant.expiresAt!.getTime()).toBeLessThan(after + 600_000 - 150);
  });

  it('returns a rotated refresh token; the old one stops working', async () => {
    server.configure({ rotateRefreshTokens: true });
    const old = refreshToken();
    const c = client();
    const grant = await c.refresh(zoho(server.url), { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, refreshToken: old });
    expect(grant.refreshToken).toEqual(expect.any(String));
    expect(grant.refreshToken).not.toBe(old);
    secrets.add(grant.refreshToken!);
    expect(server.isRefreshTokenValid(old)).toBe(false);
    expect(server.isRefreshTokenValid(grant.refreshToken!)).toBe(true);
    const again = await failure(c.refresh(zoho(server.url), { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, refreshToken: old }), ProviderRefusedError);
    expect(again.oauthError).toBe('invalid_code');
    const next = await c.refresh(zoho(server.url), { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, refreshToken: grant.refreshToken! });
    expect(next.accessToken).not.toBe(grant.accessToken);
  });

  it('a wrong client secret is invalid_client, not retried', async () => {
    const attempts: AttemptInfo[] = [];
    const err = await failure(
      client({}, attempts).refresh(zoho(server.url), { clientId: CLIENT_ID, clientSecret: 'wrong-secret-value', refreshToken: refreshToken() }),
      ProviderRefusedError,
    );
    secrets.add('wrong-secret-value');
    expect(err).toMatchObject({ code: 'PROVIDER_REFUSED', oauthError: 'invalid_client', permanent: true, status: 200 });
    expect(server.count()).toBe(1);
    expect(attempts).toEqual([expect.objectContaining({ kind: 'refresh', attempt: 1, outcome: 'refused', status: 200, willRetry: false })]);
  });

  it('an unknown refresh token is invalid_code: exactly one request', async () => {
    const err = await failure(
      client().refresh(zoho(server.url), { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, refreshToken: '1000.unknown-refresh-token' }),
      ProviderRefusedError,
    );
    expect(err.oauthError).toBe('invalid_code');
    expect(server.count('refresh_token')).toBe(1);
  });

  it('access_denied (the rate limit) is a refusal to back off from, not retried', async () => {
    server.setFailure('accessDenied');
    const err = await failure(
      client().refresh(zoho(server.url), { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, refreshToken: refreshToken() }),
      ProviderRefusedError,
    );
    expect(err).toMatchObject({ oauthError: 'access_denied', permanent: false });
    expect(server.count()).toBe(1);
  });

  it('a 500 then a success: retried, two requests', async () => {
    server.setFailure('http500', 1);
    const attempts: AttemptInfo[] = [];
    const grant = await client({}, attempts).refresh(zoho(server.url), { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, refreshToken: refreshToken() });
    expect(grant.accessToken).toBe(server.issuedAccessTokens.at(-1)!.accessToken);
    expect(server.count('refresh_token')).toBe(2);
    expect(attempts.map((a) => [a.attempt, a.outcome, a.willRetry])).toEqual([
      [1, 'http_5xx', true],
      [2, 'ok', false],
    ]);
  });

  it('a body that is not JSON is retried, then UPSTREAM_UNAVAILABLE after exactly maxAttempts requests', async () => {
    server.setFailure('notJson');
    const err = await failure(
      client({ maxAttempts: 4 }).refresh(zoho(server.url), { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, refreshToken: refreshToken() }),
      UpstreamUnavailableError,
    );
    expect(err).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', reason: 'not_json', status: 200, attempts: 4 });
    expect(server.count()).toBe(4);
  });

  it('retries are bounded: a provider that keeps failing gets exactly maxAttempts requests', async () => {
    server.setFailure('http500');
    const err = await failure(
      client({ maxAttempts: 3 }).refresh(zoho(server.url), { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, refreshToken: refreshToken() }),
      UpstreamUnavailableError,
    );
    expect(err).toMatchObject({ reason: 'http_5xx', status: 500, attempts: 3 });
    expect(server.count()).toBe(3);
    expect(err.response?.status).toBe(500);
  });

  it('a hung provider times out within the timeout on every attempt', async () => {
    server.setFailure('hang');
    const attempts: AttemptInfo[] = [];
    const started = Date.now();
    // Generous slack above the timeout: CI shares two cores with MariaDB and other test files.
    const err = await failure(
      client({ timeoutMs: 600, maxAttempts: 2 }, attempts).refresh(zoho(server.url), {
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        refreshToken: refreshToken(),
      }),
      UpstreamUnavailableError,
    );
    const elapsed = Date.now() - started;
    expect(err).toMatchObject({ reason: 'timeout', attempts: 2 });
    expect(err.message).toContain('600 ms');
    expect(server.count()).toBe(2);
    expect(elapsed).toBeGreaterThanOrEqual(2 * 600 - 20);
    expect(elapsed).toBeLessThan(2 * 600 + 20 + 2000);
    for (const a of attempts) expect(a.durationMs).toBeLessThan(600 + 1000);
  });

  it('the timeout covers a slow answer too, and a fast enough one succeeds', async () => {
    server.configure({ delayMs: 400 });
    await failure(
      client({ timeoutMs: 200, maxAttempts: 1 }).refresh(zoho(server.url), { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, refreshToken: refreshToken() }),
      UpstreamUnavailableError,
    );
    server.configure({ delayMs: 50 });
    await expect(
      client({ timeoutMs: 1000, maxAttempts: 1 }).refresh(zoho(server.url), { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, refreshToken: refreshToken() }),
    ).resolves.toHaveProperty('accessToken');
  });

  it('a refused connection is a network error, retried up to maxAttempts', async () => {
    const attempts: AttemptInfo[] = [];
    const err = await failure(
      client({ maxAttempts: 3 }, attempts).refresh(zoho(deadUrl), {
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        refreshToken: '1000.rt-for-a-dead-host',
      }),
      UpstreamUnavailableError,
    );
    secrets.add('1000.rt-for-a-dead-host');
    expect(err).toMatchObject({ reason: 'network', notSent: true, attempts: 3 });
    expect(err.message).toContain('ECONNREFUSED');
    expect(attempts.map((a) => a.outcome)).toEqual(['network', 'network', 'network']);
  });
});

describe('exchangeGrant', () => {
  it('exchanges a grant code once; the second use is invalid_code', async () => {
    const code = grantCode({ redirectUri: 'https://app.example.com/callback' });
    const c = client();
    const grant = await c.exchangeGrant(zoho(server.url), {
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      code,
      redirectUri: 'https://app.example.com/callback',
    });
    secrets.add(grant.refreshToken!);
    expect(grant.refreshToken).toEqual(expect.any(String));
    expect(server.isRefreshTokenValid(grant.refreshToken!)).toBe(true);
    expect(server.issuedAccessTokens.at(-1)).toMatchObject({ accessToken: grant.accessToken, via: 'grant', refreshToken: grant.refreshToken });
    expect(server.requests.at(-1)).toMatchObject({ grantType: 'authorization_code', clientId: CLIENT_ID });

    const again = await failure(c.exchangeGrant(zoho(server.url), { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, code }), ProviderRefusedError);
    expect(again.oauthError).toBe('invalid_code');
    expect(server.count('authorization_code')).toBe(2);
  });

  it('a mismatched redirect URI is invalid_redirect_uri', async () => {
    const code = grantCode({ redirectUri: 'https://app.example.com/callback' });
    const err = await failure(
      client().exchangeGrant(zoho(server.url), { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, code, redirectUri: 'https://evil.example.com/' }),
      ProviderRefusedError,
    );
    expect(err.oauthError).toBe('invalid_redirect_uri');
  });

  it('an expired grant code is invalid_code', async () => {
    const code = grantCode({ ttlMs: -1 });
    const err = await failure(client().exchangeGrant(zoho(server.url), { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, code }), ProviderRefusedError);
    expect(err.oauthError).toBe('invalid_code');
  });

  it('is not retried after a 5xx: the single-use code may have been consumed', async () => {
    // Every request fails (not just the next one), so a retry would show as a second request rather than pass.
    server.setFailure('http500');
    const err = await failure(
      client({ maxAttempts: 3 }).exchangeGrant(zoho(server.url), { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, code: grantCode() }),
      UpstreamUnavailableError,
    );
    expect(err).toMatchObject({ reason: 'http_5xx', attempts: 1 });
    expect(server.count()).toBe(1);
  });

  it('is not retried after a timeout or a body that is not JSON', async () => {
    server.setFailure('hang', 1);
    const timeout = await failure(
      client({ timeoutMs: 1000, maxAttempts: 3 }).exchangeGrant(zoho(server.url), { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, code: grantCode() }),
      UpstreamUnavailableError,
    );
    expect(timeout).toMatchObject({ reason: 'timeout', attempts: 1 });
    server.setFailure('notJson', 1);
    const notJson = await failure(
      client({ maxAttempts: 3 }).exchangeGrant(zoho(server.url), { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, code: grantCode() }),
      UpstreamUnavailableError,
    );
    expect(notJson).toMatchObject({ reason: 'not_json', attempts: 1 });
    expect(server.count()).toBe(2);
  });

  it('is retried when the request surely did not leave (connection refused)', async () => {
    const attempts: AttemptInfo[] = [];
    const err = await failure(
      client({ maxAttempts: 2 }, attempts).exchangeGrant(zoho(deadUrl), {
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        code: '1000.code-for-a-dead-host',
      }),
      UpstreamUnavailableError,
    );
    secrets.add('1000.code-for-a-dead-host');
    expect(err).toMatchObject({ reason: 'network', notSent: true, attempts: 2 });
    expect(attempts.map((a) => [a.kind, a.outcome, a.willRetry])).toEqual([
      ['grant', 'network', true],
      ['grant', 'network', false],
    ]);
  });
});

describe('revoke', () => {
  it('revokes a refresh token, which then stops working', async () => {
    const rt = refreshToken();
    const c = client();
    await c.revoke(zoho(server.url), { token: rt });
    expect(server.isRefreshTokenValid(rt)).toBe(false);
    expect(server.count('revoke')).toBe(1);
    expect(server.requests.at(-1)).toMatchObject({ path: '/oauth/v2/token/revoke', encoding: 'urlencoded' });
    const err = await failure(c.refresh(zoho(server.url), { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, refreshToken: rt }), ProviderRefusedError);
    expect(err.oauthError).toBe('invalid_code');
  });

  it('an unknown token is refused with invalid_code', async () => {
    const err = await failure(client().revoke(zoho(server.url), { token: '1000.never-issued' }), ProviderRefusedError);
    expect(err.oauthError).toBe('invalid_code');
  });

  it('is retried after a 500 (revocation is idempotent)', async () => {
    server.setFailure('http500', 2);
    const rt = refreshToken();
    await client({ maxAttempts: 3 }).revoke(zoho(server.url), { token: rt });
    expect(server.count('revoke')).toBe(3);
    expect(server.isRefreshTokenValid(rt)).toBe(false);
  });
});

describe('the allow-list', () => {
  it('a disallowed accounts URL never receives a request, whatever the call', async () => {
    const c = client();
    const rt = outsider.addRefreshToken(CLIENT_ID);
    secrets.add(rt);
    const refused = await failure(
      c.refresh(zoho(outsider.url), { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, refreshToken: rt }),
      AccountsUrlNotAllowedError,
    );
    expect(refused.message).toBe(`the accounts URL ${outsider.url} is not on the allow-list (TOKENGATE_ALLOWED_ACCOUNTS_URLS)`);
    await failure(
      c.exchangeGrant(zoho(`${outsider.url}/`), { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, code: 'whatever' }),
      AccountsUrlNotAllowedError,
    );
    await failure(c.revoke(zoho(outsider.url), { token: rt }), AccountsUrlNotAllowedError);
    await failure(
      c.refresh(zoho(`${server.url}@${outsider.url.slice('http://'.length)}`), { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, refreshToken: rt }),
      AccountsUrlNotAllowedError,
    );
    expect(outsider.count()).toBe(0);
    expect(server.count()).toBe(0);
  });

  it('a redirect from an allowed server is never followed to a disallowed one', async () => {
    const attempts: AttemptInfo[] = [];
    const err = await failure(
      client({}, attempts).refresh(zoho(redirectorUrl), { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, refreshToken: refreshToken() }),
      InvalidResponseError,
    );
    expect(err).toMatchObject({ code: 'INVALID_RESPONSE', status: 307, attempts: 1 });
    expect(attempts).toHaveLength(1);
    expect(outsider.count()).toBe(0);
  });
});

describe('secrets', () => {
  it('no error seen in this file carries a secret in its message, JSON, inspect output or kept body', () => {
    expect(seenErrors.length).toBeGreaterThan(15);
    for (const err of seenErrors) {
      const views = [(err as Error).message, JSON.stringify(err), inspect(err, { depth: 5 }), (err as OAuthError).response?.body ?? ''];
      for (const view of views) for (const secret of secrets) expect(view).not.toContain(secret);
    }
  });

  it('onAttempt infos hold no secret', async () => {
    const attempts: AttemptInfo[] = [];
    await client({}, attempts).refresh(zoho(server.url), { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, refreshToken: refreshToken() });
    const text = JSON.stringify(attempts);
    for (const secret of secrets) expect(text).not.toContain(secret);
    expect(Object.keys(attempts[0]!).sort()).toEqual(['attempt', 'durationMs', 'kind', 'outcome', 'status', 'willRetry']);
  });

  it('an onAttempt hook that throws changes nothing', async () => {
    const grant = await client({
      onAttempt: () => {
        throw new Error('metrics are down');
      },
    }).refresh(zoho(server.url), { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, refreshToken: refreshToken() });
    expect(grant.accessToken).toBe(server.issuedAccessTokens.at(-1)!.accessToken);
  });
});

describe('options', () => {
  it('refuses out-of-range numbers', () => {
    expect(() => client({ maxAttempts: 0 })).toThrow(RangeError);
    expect(() => client({ maxAttempts: 1.5 })).toThrow(RangeError);
    expect(() => client({ timeoutMs: 0 })).toThrow(RangeError);
    expect(() => client({ baseDelayMs: -1 })).toThrow(RangeError);
  });

  it('refuses an oversized answer as INVALID_RESPONSE', async () => {
    const err = await failure(
      client({ maxBodyBytes: 64 }).refresh(zoho(server.url), { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, refreshToken: refreshToken() }),
      InvalidResponseError,
    );
    expect(err.attempts).toBe(1);
  });
});

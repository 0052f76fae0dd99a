/** The fake Accounts server itself: it must speak Zoho's dialects, or the client tests prove little. */
import { startFakeAccountsServer, type FakeAccountsServer } from '../support/fake-accounts-server';

let server: FakeAccountsServer;

beforeAll(async () => {
  server = await startFakeAccountsServer({ apiDomain: 'https://www.zohoapis.eu' });
  server.addClient('cid', 'csecret');
});
afterAll(() => server.close());
beforeEach(() => {
  server.setFailure('none');
  server.configure({ rotateRefreshTokens: false, delayMs: 0, expiresIn: 3600, useExpiresInSec: false });
  server.resetRequests();
});

async function post(
  path: string,
  init: { body?: BodyInit; headers?: Record<string, string> } = {},
): Promise<{ status: number; text: string; json: () => Record<string, unknown> }> {
  const res = await fetch(`${server.url}${path}`, { method: 'POST', ...init });
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

describe('fake Accounts server', () => {
  it("refreshes with multipart form-data (Zoho's TS SDK)", async () => {
    const rt = server.addRefreshToken('cid');
    const form = new FormData();
    for (const [k, v] of Object.entries({ grant_type: 'refresh_token', client_id: 'cid', client_secret: 'csecret', refresh_token: rt })) form.append(k, v);
    const res = await post('/oauth/v2/token', { body: form });
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({
      access_token: server.issuedAccessTokens.at(-1)!.accessToken,
      api_domain: 'https://www.zohoapis.eu',
      token_type: 'Bearer',
      expires_in: 3600,
    });
    expect(server.requests.at(-1)).toMatchObject({ encoding: 'multipart', grantType: 'refresh_token', clientId: 'cid' });
  });

  it('refreshes with parameters in the query string, and with expires_in_sec', async () => {
    server.configure({ useExpiresInSec: true, expiresIn: 120 });
    const rt = server.addRefreshToken('cid');
    const res = await post(
      `/oauth/v2/token?${new URLSearchParams({ grant_type: 'refresh_token', client_id: 'cid', client_secret: 'csecret', refresh_token: rt })}`,
    );
    expect(res.json()).toMatchObject({ expires_in_sec: 120 });
    expect(res.json()).not.toHaveProperty('expires_in');
    expect(server.requests.at(-1)).toMatchObject({ encoding: 'query' });
  });

  it("answers Zoho's errors with HTTP 200", async () => {
    const rt = server.addRefreshToken('cid');
    const urlencoded = (params: Record<string, string>) => post('/oauth/v2/token', { body: new URLSearchParams(params) });
    expect((await urlencoded({ grant_type: 'refresh_token', client_id: 'cid', client_secret: 'nope', refresh_token: rt })).json()).toEqual({
      error: 'invalid_client',
    });
    expect((await urlencoded({ grant_type: 'refresh_token', client_id: 'other', client_secret: 'csecret', refresh_token: rt })).json()).toEqual({
      error: 'invalid_client',
    });
    const unknown = await urlencoded({ grant_type: 'refresh_token', client_id: 'cid', client_secret: 'csecret', refresh_token: 'nope' });
    expect([unknown.status, unknown.json()]).toEqual([200, { error: 'invalid_code' }]);
    expect((await urlencoded({ grant_type: 'password', client_id: 'cid', client_secret: 'csecret' })).json()).toEqual({ error: 'unsupported_grant_type' });
    expect(server.count('refresh_token')).toBe(3);
    expect(server.count('password')).toBe(1);
  });

  it('fails only the next N requests, then answers normally', async () => {
    server.setFailure('invalidCode', 2);
    const rt = server.addRefreshToken('cid');
    const body = () => new URLSearchParams({ grant_type: 'refresh_token', client_id: 'cid', client_secret: 'csecret', refresh_token: rt });
    expect((await post('/oauth/v2/token', { body: body() })).json()).toEqual({ error: 'invalid_code' });
    expect((await post('/oauth/v2/token', { body: body() })).json()).toEqual({ error: 'invalid_code' });
    expect((await post('/oauth/v2/token', { body: body() })).json()).toHaveProperty('access_token');
    server.setFailure('http500', 1);
    expect((await post('/oauth/v2/token', { body: body() })).status).toBe(500);
    server.setFailure('notJson', 1);
    expect((await post('/oauth/v2/token', { body: body() })).text).toMatch(/^<html>/);
    expect(server.count()).toBe(5);
  });

  it('revokes with the token in the query string', async () => {
    const rt = server.addRefreshToken('cid');
    expect((await post(`/oauth/v2/token/revoke?token=${encodeURIComponent(rt)}`)).json()).toEqual({ status: 'success' });
    expect(server.isRefreshTokenValid(rt)).toBe(false);
    expect((await post(`/oauth/v2/token/revoke?token=${encodeURIComponent(rt)}`)).json()).toEqual({ error: 'invalid_code' });
    expect(server.count('revoke')).toBe(2);
  });

  it('closes promptly with a hung request pending', async () => {
    const hung = await startFakeAccountsServer({ failure: 'hang' });
    const pending = fetch(`${hung.url}/oauth/v2/token`, { method: 'POST', body: 'x=1' }).then(
      () => 'answered',
      () => 'failed',
    );
    await hung.received(1);
    const started = Date.now();
    await hung.close();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await pending).toBe('failed');
  });
});

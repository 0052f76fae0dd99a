/**
 * Every failure of the connect flow (`shared/spec/connect.md`) over HTTP,
 * against a real gateway (SQLite) and the fake Zoho Accounts server with its
 * consent step: each ends with a clear outcome — at `returnTo`
 * (`connect=error&reason=…`) when the connect is known, else the offline
 * page with HTTP 400 — and no token is written or changed. Expiry is driven
 * by the gateway's injected clock, not by waiting.
 */
import { randomBytes } from 'node:crypto';
import { startFakeAccountsServer, type FakeAccountsServer } from '../support/fake-accounts-server';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { freePort } from '../support/process-gateway';
import { SAVE_CLIENT, START_CONNECT, consent, hop, outcomeOf } from '../support/connect-flow';

const RETURN_TO = 'https://app.example.com/settings';
const CLIENT_SECRET = 'crm-client-secret-0123456789';

let zoho: FakeAccountsServer;
let gw: TestGateway;
/** Where nothing listens: an allowed accounts server that cannot be reached. */
let deadAccounts: string;
let clockOffsetMs = 0;

beforeAll(async () => {
  zoho = await startFakeAccountsServer();
  zoho.addClient('1000.CRMCLIENT', CLIENT_SECRET);
  deadAccounts = `http://127.0.0.1:${await freePort()}`;
  const port = await freePort();
  gw = await startTestGateway({
    store: 'sqlite',
    port,
    env: {
      TOKENGATE_ACCOUNTS_URL: zoho.url,
      TOKENGATE_ALLOWED_ACCOUNTS_URLS: `${zoho.url},${deadAccounts}`,
      TOKENGATE_PUBLIC_URL: `http://127.0.0.1:${port}`,
      TOKENGATE_CONNECT_RETURN_ORIGINS: 'https://app.example.com',
      TOKENGATE_UPSTREAM_TIMEOUT_MS: '2000',
    },
    deps: { now: () => Date.now() + clockOffsetMs },
  });
  const saved = await gw.gql(
    SAVE_CLIENT,
    { client: { name: 'crm', clientId: '1000.CRMCLIENT', clientSecret: CLIENT_SECRET, scopes: ['ZohoCRM.modules.ALL'] } },
    gw.keys.admin,
  );
  expect(saved.body.errors).toBeUndefined();
});

afterAll(async () => {
  await gw?.close();
  await zoho?.close();
});

beforeEach(() => {
  clockOffsetMs = 0;
  zoho.configure({ consentDecision: 'approve', consentAccountsServer: null });
  zoho.setFailure('none');
});

/** Every stored token as it is now (id, version, the fields a connect writes). */
async function snapshot() {
  const tokens = await gw.gateway.stores.tokens.getTokens();
  return tokens.map((t) => ({
    id: t.id,
    version: t.version,
    refreshToken: t.refreshToken,
    accessToken: t.accessToken,
    failedAt: t.failedAt,
    accountsUrl: t.accountsUrl,
    client: t.client,
  }));
}

async function start(input: Record<string, unknown> = {}): Promise<string> {
  const { body } = await gw.gql(
    START_CONNECT,
    { input: { client: 'crm', userName: `user-${randomBytes(4).toString('hex')}@example.com`, returnTo: RETURN_TO, ...input } },
    gw.keys.operator,
  );
  expect(body.errors).toBeUndefined();
  return body.data.startConnect.authorizationUrl;
}

/** The callback as the gateway itself serves it (the URL the provider redirected to). */
const callback = (url: URL) => hop(url.toString());

/** Runs a failing connect and checks that it wrote or changed nothing. */
async function failing(run: () => Promise<void>): Promise<void> {
  const before = await snapshot();
  await run();
  expect(await snapshot()).toEqual(before);
}

describe('the callback of a state the gateway does not know', () => {
  it('answers a forged state with the offline page (HTTP 400), no redirect, nothing exchanged', async () => {
    await failing(async () => {
      const exchanges = zoho.count('authorization_code');
      const forged = new URL(`${gw.url}/oauth/callback`);
      forged.searchParams.set('state', randomBytes(32).toString('base64url'));
      forged.searchParams.set('code', zoho.issueGrantCode('1000.CRMCLIENT'));
      forged.searchParams.set('accounts-server', zoho.url);
      const page = await callback(forged);
      expect(page.status).toBe(400);
      expect(page.location).toBeNull();
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(page.headers.get('content-security-policy')).toBe("default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
      expect(page.headers.get('cache-control')).toBe('no-store');
      expect(page.text).toContain('This link has expired or was already used');
      expect(page.text).not.toContain(forged.searchParams.get('code'));
      expect(zoho.count('authorization_code')).toBe(exchanges);
    });
  });

  it.each([
    ['no state', ''],
    ['a malformed state', '?state=%3Cscript%3E&code=x'],
    ['a repeated state', `?state=${randomBytes(32).toString('base64url')}&state=x&code=x`],
  ])('answers %s with the offline page', async (_name, query) => {
    await failing(async () => {
      const page = await hop(`${gw.url}/oauth/callback${query}`);
      expect(page.status).toBe(400);
      expect(page.text).toContain('This link has expired or was already used');
      expect(page.text).not.toContain('<script>');
    });
  });

  it("answers an expired state (past TOKENGATE_CONNECT_TTL_SECONDS on the gateway's clock) with the offline page, exchanging nothing", async () => {
    const url = await consent(await start());
    await failing(async () => {
      const exchanges = zoho.count('authorization_code');
      clockOffsetMs = 600_000 + 1;
      const page = await callback(url);
      expect(page.status).toBe(400);
      expect(page.text).toContain('This link has expired or was already used');
      expect(zoho.count('authorization_code')).toBe(exchanges);
      // The expired connect is consumed too: setting the clock back does not revive it.
      clockOffsetMs = 0;
      expect((await callback(url)).status).toBe(400);
    });
  });

  it('still accepts a state just before it expires', async () => {
    const url = await consent(await start());
    clockOffsetMs = 600_000 - 1_000;
    const back = await callback(url);
    expect(outcomeOf(back.location)).toMatchObject({ connect: 'ok' });
  });

  it('answers a reused state with the offline page: the first callback consumed it, the second changes nothing', async () => {
    const url = await consent(await start());
    const first = await callback(url);
    expect(outcomeOf(first.location).connect).toBe('ok');
    await failing(async () => {
      const exchanges = zoho.count('authorization_code');
      const second = await callback(url);
      expect(second.status).toBe(400);
      expect(second.text).toContain('This link has expired or was already used');
      expect(zoho.count('authorization_code')).toBe(exchanges);
    });
  });
});

describe('the callback of a known connect that fails', () => {
  it('sends a declined consent back to returnTo with reason access_denied, exchanging nothing', async () => {
    zoho.configure({ consentDecision: 'deny' });
    const url = await consent(await start());
    expect(url.searchParams.get('error')).toBe('access_denied');
    await failing(async () => {
      const exchanges = zoho.count('authorization_code');
      const back = await callback(url);
      expect(back.status).toBe(302);
      const outcome = outcomeOf(back.location);
      expect(outcome.url.origin + outcome.url.pathname).toBe(RETURN_TO);
      expect(outcome).toMatchObject({ connect: 'error', reason: 'access_denied', token: null });
      expect(zoho.count('authorization_code')).toBe(exchanges);
    });
    // The state was consumed by that first callback, whatever its outcome.
    expect((await callback(url)).status).toBe(400);
  });

  it('sends a code the provider refuses back with reason invalid_code, after exactly one exchange', async () => {
    const url = await consent(await start());
    url.searchParams.set('code', '1000.not-a-code-the-provider-issued');
    await failing(async () => {
      const exchanges = zoho.count('authorization_code');
      const back = await callback(url);
      expect(outcomeOf(back.location)).toMatchObject({ connect: 'error', reason: 'invalid_code' });
      expect(zoho.count('authorization_code')).toBe(exchanges + 1);
    });
  });

  it('sends a callback without a code back with reason invalid_code', async () => {
    const url = await consent(await start());
    url.searchParams.delete('code');
    await failing(async () => {
      expect(outcomeOf((await callback(url)).location)).toMatchObject({ connect: 'error', reason: 'invalid_code' });
    });
  });

  it('sends an unreachable provider back with reason provider_unavailable', async () => {
    const url = await consent(await start());
    url.searchParams.set('accounts-server', deadAccounts);
    await failing(async () => {
      expect(outcomeOf((await callback(url)).location)).toMatchObject({ connect: 'error', reason: 'provider_unavailable' });
    });
  });

  it('sends a provider failing with HTTP 500 back with reason provider_unavailable, without a second exchange of the code', async () => {
    const url = await consent(await start());
    zoho.setFailure('http500', 1);
    await failing(async () => {
      const exchanges = zoho.count('authorization_code');
      expect(outcomeOf((await callback(url)).location)).toMatchObject({ connect: 'error', reason: 'provider_unavailable' });
      expect(zoho.count('authorization_code')).toBe(exchanges + 1);
    });
  });

  it.each(['https://accounts.evil.example', 'https://accounts.zoho.eu.evil.example', 'https://accounts.zoho.eu@evil.example', 'javascript:alert(1)'])(
    'sends an accounts-server that is not an allowed Zoho accounts server (%s) back with reason accounts_server_not_allowed, exchanging nothing',
    async (server) => {
      const url = await consent(await start());
      url.searchParams.set('accounts-server', server);
      await failing(async () => {
        const exchanges = zoho.count('authorization_code');
        expect(outcomeOf((await callback(url)).location)).toMatchObject({ connect: 'error', reason: 'accounts_server_not_allowed' });
        expect(zoho.count('authorization_code')).toBe(exchanges);
      });
    },
  );

  it('keeps a FAILED token as it was when its reconnect fails', async () => {
    const failed = await gw.gateway.stores.tokens.saveToken({
      userName: 'failed@example.com',
      clientId: '1000.CRMCLIENT',
      clientSecret: CLIENT_SECRET,
      refreshToken: '1000.refresh-the-provider-forgot',
      accountsUrl: zoho.url,
      lastError: 'invalid_code',
      failedAt: new Date(),
    });
    zoho.configure({ consentDecision: 'deny' });
    const url = await consent(await start({ tokenId: failed.id, userName: null }));
    await failing(async () => {
      expect(outcomeOf((await callback(url)).location)).toMatchObject({ connect: 'error', reason: 'access_denied' });
    });
    const after = await gw.gql(`query($id: ID!) { tokenById(id: $id) { status lastError } }`, { id: failed.id }, gw.keys.viewer);
    expect(after.body.data.tokenById).toEqual({ status: 'FAILED', lastError: 'invalid_code' });
  });

  it('keeps its own query string in returnTo and appends the outcome', async () => {
    zoho.configure({ consentDecision: 'deny' });
    const url = await consent(await start({ returnTo: 'https://app.example.com/crm/connect?from=settings&x=1#done' }));
    const outcome = outcomeOf((await callback(url)).location);
    expect(outcome.url.toString()).toBe('https://app.example.com/crm/connect?from=settings&x=1&connect=error&reason=access_denied#done');
  });
});

describe('the governor', () => {
  afterAll(async () => {
    // Room for the connects of the tests below (this file's exchanges all fall in one window).
    await gw.gql(`mutation { saveProvider(provider: { name: "zoho", limits: { grantsPerWindow: 100 } }) { name } }`, {}, gw.keys.admin);
  });

  it("refuses an exchange beyond the client's grant window: reason provider_unavailable, the code not sent", async () => {
    // The exchanges of the tests above are in the window already: one per window is over the limit.
    const limited = await gw.gql(
      `mutation { saveProvider(provider: { name: "zoho", limits: { grantsPerWindow: 1 } }) { limits { grantsPerWindow } } }`,
      {},
      gw.keys.admin,
    );
    expect(limited.body.data.saveProvider.limits.grantsPerWindow).toBe(1);
    const url = await consent(await start());
    await failing(async () => {
      const exchanges = zoho.count('authorization_code');
      expect(outcomeOf((await callback(url)).location)).toMatchObject({ connect: 'error', reason: 'provider_unavailable' });
      expect(zoho.count('authorization_code')).toBe(exchanges);
    });
    expect(gw.logs()).toContain('the governor allows no grant exchange now');
  });
});

describe('a HEAD request of the callback', () => {
  it("is not answered, and leaves the connect to the browser's GET", async () => {
    const url = await consent(await start());
    const head = await fetch(url, { method: 'HEAD', redirect: 'manual' });
    expect(head.status).toBe(404);
    expect(outcomeOf((await callback(url)).location).connect).toBe('ok');
  });
});

describe('without returnTo', () => {
  it('answers the outcome with the small offline page: 200 when connected, 400 when declined; never a code or a secret', async () => {
    const okUrl = await consent(await start({ returnTo: null }));
    const ok = await callback(okUrl);
    expect(ok.status).toBe(200);
    expect(ok.location).toBeNull();
    expect(ok.text).toContain('Account connected');
    expect(ok.headers.get('content-security-policy')).toBe("default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    expect(ok.headers.get('x-frame-options')).toBe('DENY');
    const id = /id ([A-Za-z0-9_-]+)\)/.exec(ok.text)![1]!;
    const token = await gw.gateway.stores.tokens.findTokenById(id);
    for (const secret of [okUrl.searchParams.get('code')!, okUrl.searchParams.get('state')!, token!.refreshToken!, token!.accessToken!, CLIENT_SECRET])
      expect(ok.text).not.toContain(secret);
    expect(ok.text).not.toMatch(/<script|<style|style=|<link|<img/i);

    zoho.configure({ consentDecision: 'deny' });
    const declinedUrl = await consent(await start({ returnTo: null }));
    const declined = await callback(declinedUrl);
    expect(declined.status).toBe(400);
    expect(declined.text).toContain('The consent was declined');
  });
});

describe('startConnect refuses a bad request, storing nothing', () => {
  it.each([
    ['a returnTo on an origin not listed', { returnTo: 'https://evil.example/steal' }, 'BAD_USER_INPUT'],
    ['a returnTo that is not an http(s) URL', { returnTo: 'javascript:alert(1)' }, 'BAD_USER_INPUT'],
    ['a returnTo with credentials', { returnTo: 'https://user:pw@app.example.com/' }, 'BAD_USER_INPUT'],
    ['an unknown client', { client: 'nope' }, 'NOT_FOUND'],
    ['no user name and no token', { userName: null }, 'BAD_USER_INPUT'],
    ['an unknown token to reconnect', { tokenId: 'no-such-token' }, 'NOT_FOUND'],
    ['a malformed scope', { scopes: ['two words'] }, 'BAD_USER_INPUT'],
  ])('%s', async (_name, input, code) => {
    const before = await snapshot();
    const { body } = await gw.gql(START_CONNECT, { input: { client: 'crm', userName: 'x@example.com', returnTo: RETURN_TO, ...input } }, gw.keys.operator);
    expect(body.errors?.[0]?.extensions?.code).toBe(code);
    expect(body.data).toBeNull();
    expect(await snapshot()).toEqual(before);
  });

  it('is for operators and admins: a viewer gets FORBIDDEN', async () => {
    const { body } = await gw.gql(START_CONNECT, { input: { client: 'crm', userName: 'x@example.com' } }, gw.keys.viewer);
    expect(body.errors[0].extensions.code).toBe('FORBIDDEN');
  });
});

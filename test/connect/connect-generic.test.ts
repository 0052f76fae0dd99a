/**
 * The connect flow with a generic OAuth 2.0 provider that uses PKCE, against
 * a fake standard server (not Zoho): space-separated scopes, an S256
 * challenge on the consent URL, the verifier sent with the code exchange
 * (the fake refuses the code without it), HTTP Basic client authentication.
 */
import { startFakeOAuth2Server, type FakeOAuth2Server } from '../support/fake-oauth2-server';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { freePort } from '../support/process-gateway';
import { SAVE_CLIENT, START_CONNECT, consent, hop, outcomeOf } from '../support/connect-flow';

let idp: FakeOAuth2Server;
let gw: TestGateway;

beforeAll(async () => {
  idp = await startFakeOAuth2Server();
  idp.addClient('acme-client', 'acme-secret-0123456789');
  const port = await freePort();
  gw = await startTestGateway({
    store: 'memory',
    port,
    env: { TOKENGATE_PUBLIC_URL: `http://127.0.0.1:${port}`, TOKENGATE_CONNECT_RETURN_ORIGINS: 'https://app.example.com' },
  });
  const provider = await gw.gql(
    `mutation($p: ProviderInput!) { saveProvider(provider: $p) { name pkce } }`,
    { p: { name: 'acme', tokenUrl: idp.tokenUrl, revocationUrl: idp.revocationUrl, authorizationUrl: idp.authorizationUrl, pkce: true } },
    gw.keys.admin,
  );
  expect(provider.body.errors).toBeUndefined();
});

afterAll(async () => {
  await gw?.close();
  await idp?.close();
});

describe('connecting an account of a generic provider with PKCE', () => {
  it('refuses a client of a provider that has no authorization endpoint, or a Zoho accounts server for it', async () => {
    await gw.gql(`mutation { saveProvider(provider: { name: "noauth", tokenUrl: "https://idp.example.com/token" }) { name } }`, {}, gw.keys.admin);
    const noAuth = await gw.gql(SAVE_CLIENT, { client: { name: 'x', provider: 'noauth', clientId: 'c', clientSecret: 's' } }, gw.keys.admin);
    expect(noAuth.body.errors[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' }, message: expect.stringContaining('no authorizationUrl') });
    const withAccounts = await gw.gql(
      SAVE_CLIENT,
      { client: { name: 'x', provider: 'acme', clientId: 'c', clientSecret: 's', accountsUrl: 'https://accounts.zoho.com' } },
      gw.keys.admin,
    );
    expect(withAccounts.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
  });

  it('sends an S256 challenge, exchanges the code with its verifier, and stores a token of that provider', async () => {
    const saved = await gw.gql(
      SAVE_CLIENT,
      { client: { name: 'acme-app', provider: 'acme', clientId: 'acme-client', clientSecret: 'acme-secret-0123456789', scopes: ['openid', 'offline_access'] } },
      gw.keys.admin,
    );
    expect(saved.body.data.saveClient).toMatchObject({ provider: 'acme', accountsUrl: null });

    const started = await gw.gql(
      START_CONNECT,
      { input: { client: 'acme-app', userName: 'ana@acme.example', returnTo: 'https://app.example.com/' } },
      gw.keys.operator,
    );
    expect(started.body.errors).toBeUndefined();
    const auth = new URL(started.body.data.startConnect.authorizationUrl);
    expect(`${auth.origin}${auth.pathname}`).toBe(idp.authorizationUrl);
    expect(auth.searchParams.get('scope')).toBe('openid offline_access');
    expect(auth.searchParams.get('code_challenge_method')).toBe('S256');
    expect(auth.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(auth.searchParams.has('access_type')).toBe(false);

    const outcome = outcomeOf((await hop((await consent(auth.toString())).toString())).location);
    expect(outcome.connect).toBe('ok');
    const exchange = idp.requests.find((r) => r.grantType === 'authorization_code');
    expect(exchange).toMatchObject({ clientAuth: 'basic', status: 200 });

    const { body } = await gw.gql(
      `mutation($id: ID!) { refresh(id: $id) { provider accountsUrl client status userName } }`,
      { id: outcome.token },
      gw.keys.operator,
    );
    expect(body.data.refresh).toEqual({ provider: 'acme', accountsUrl: null, client: 'acme-app', status: 'ACTIVE', userName: 'ana@acme.example' });
  });

  it('uses a fresh challenge for every connect', async () => {
    const challenges = new Set<string | null>();
    for (let i = 0; i < 3; i++) {
      const started = await gw.gql(START_CONNECT, { input: { client: 'acme-app', userName: `u${i}@acme.example` } }, gw.keys.operator);
      challenges.add(new URL(started.body.data.startConnect.authorizationUrl).searchParams.get('code_challenge'));
    }
    expect(challenges.size).toBe(3);
  });
});

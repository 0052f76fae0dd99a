import fs from 'node:fs';
import path from 'node:path';
import { createLogger } from '../../src/logger';
import { AccountsClient } from '../../src/oauth/accounts-client';
import { AccountsUrlPolicy } from '../../src/oauth/accounts-url-policy';
import { ZOHO_ACCOUNTS_URLS } from '../../src/oauth/data-centers';
import { RefreshEngine } from '../../src/oauth/refresh-engine';
import { ProviderRegistry } from '../../src/providers/provider-registry';
import { TokenService } from '../../src/services/token.service';
import { memoryStores } from '../../src/stores/memory/memory-stores';
import { startFakeAccountsServer, type FakeAccountsServer } from '../support/fake-accounts-server';
import { pinnedFetch } from '../support/pinned-fetch';

/**
 * A token of Zoho's United Kingdom data center refreshes at
 * https://accounts.zoho.uk: the fake Accounts server serves HTTPS with a
 * certificate for accounts.zoho.uk, and the client's HTTP agent connects
 * that host name to it (as a hosts-file entry would); the rest — the
 * default allow-list, the data center chosen from the API domain, the
 * request — is the gateway's own.
 */
describe('Zoho UK data center', () => {
  const fixtures = path.join(__dirname, '../support/fixtures');
  const key = fs.readFileSync(path.join(fixtures, 'zoho-uk-test.key'));
  const cert = fs.readFileSync(path.join(fixtures, 'zoho-uk-test.crt'));
  let uk: FakeAccountsServer;

  beforeAll(async () => {
    uk = await startFakeAccountsServer({ tls: { key, cert }, apiDomain: 'https://www.zohoapis.uk' });
    uk.addClient('1000.UKCLIENT', 'uk-secret');
  });
  afterAll(() => uk.close());

  it('is on the default allow-list, chosen from a www.zohoapis.uk API domain, and refreshed there', async () => {
    expect(ZOHO_ACCOUNTS_URLS).toContain('https://accounts.zoho.uk');
    const store = memoryStores();
    const policy = new AccountsUrlPolicy({ defaultAccountsUrl: 'https://accounts.zoho.com', allowed: [...ZOHO_ACCOUNTS_URLS] });
    const client = new AccountsClient({ policy, maxAttempts: 1, fetch: pinnedFetch({ 'accounts.zoho.uk': { port: Number(new URL(uk.url).port), ca: cert } }) });
    const providers = new ProviderRegistry({ store: store.providers, policy });
    const engine = new RefreshEngine({
      tokens: store.tokens,
      leases: store.leases,
      audit: store.audit,
      counters: store.governor,
      client,
      policy,
      logger: createLogger('silent'),
      refreshAheadMs: 300_000,
      leaseMs: 5_000,
      providers,
    });
    const service = new TokenService(store.tokens, store.browse, policy, engine, 300_000, undefined, providers);

    const saved = await service.saveToken({
      userName: 'uk@example.co.uk',
      clientId: '1000.UKCLIENT',
      clientSecret: 'uk-secret',
      refreshToken: uk.addRefreshToken('1000.UKCLIENT'),
      apiDomain: 'https://www.zohoapis.uk',
    });
    expect(saved).toMatchObject({ provider: 'zoho', accountsUrl: 'https://accounts.zoho.uk' });

    const refreshed = await engine.refresh(saved.id);
    expect(refreshed.accessToken).toBe(uk.issuedAccessTokens.at(-1)!.accessToken);
    expect(uk.requests).toHaveLength(1);
    expect(uk.requests[0]).toMatchObject({ path: '/oauth/v2/token', grantType: 'refresh_token', host: 'accounts.zoho.uk', encoding: 'urlencoded' });
  });
});

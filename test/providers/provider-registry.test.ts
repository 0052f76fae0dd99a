import { AccountsUrlPolicy } from '../../src/oauth/accounts-url-policy';
import { parseProviderDefinition } from '../../src/providers/provider-definition';
import { ProviderRegistry } from '../../src/providers/provider-registry';
import { memoryStores } from '../../src/stores/memory/memory-stores';
import type { ProviderStore } from '../../src/stores/provider-store';

/**
 * How the registry reads the database: unknown names do not send it to the
 * database on every call, while a provider saved here is found at once and
 * one saved by another process (straight into the store) soon after.
 */
describe('ProviderRegistry.find', () => {
  let now: number;
  let store: ProviderStore;
  let reads: number;
  let registry: ProviderRegistry;
  const acme = parseProviderDefinition({ name: 'acme', tokenUrl: 'https://idp.acme.example/token' });

  beforeEach(async () => {
    now = 1_000_000;
    reads = 0;
    const stored = memoryStores().providers;
    // The memory store itself, its reads counted.
    store = {
      listProviders: () => {
        reads++;
        return stored.listProviders();
      },
      saveProvider: (d) => stored.saveProvider(d),
      deleteProvider: (name) => stored.deleteProvider(name),
    };
    const policy = new AccountsUrlPolicy({ defaultAccountsUrl: 'https://accounts.zoho.com', allowed: ['https://accounts.zoho.com'] });
    registry = new ProviderRegistry({ store, policy, now: () => now });
    await registry.load();
    reads = 0;
  });

  it('answers a stream of unknown names with one read of the database at most per quarter second', async () => {
    for (let i = 0; i < 50; i++) expect(await registry.find(`nope${i}`)).toBeNull();
    expect(reads).toBe(0);
    now += 251;
    expect(await registry.find('nope')).toBeNull();
    expect(await Promise.all(Array.from({ length: 20 }, (_, i) => registry.find(`other${i}`)))).toEqual(Array(20).fill(null));
    expect(reads).toBe(1);
  });

  it('finds a provider another process saved once the miss is a quarter second old', async () => {
    expect(await registry.find('acme')).toBeNull();
    // Saved by another gateway process on the same database.
    await store.saveProvider(acme);
    expect(await registry.find('acme')).toBeNull();
    now += 251;
    expect((await registry.find('acme'))?.name).toBe('acme');
  });

  it('finds a provider saved through it at once', async () => {
    expect(await registry.find('acme')).toBeNull();
    await registry.save({ name: 'acme', tokenUrl: 'https://idp.acme.example/token' });
    expect((await registry.find('acme'))?.name).toBe('acme');
  });

  it('still reads known names again every couple of seconds (limits changed elsewhere apply)', async () => {
    expect((await registry.find('zoho'))?.limits.accessTokensPerWindow).toBe(10);
    await store.saveProvider(parseProviderDefinition({ name: 'zoho', limits: { accessTokensPerWindow: 3 } }));
    now += 1_000;
    expect((await registry.find('zoho'))?.limits.accessTokensPerWindow).toBe(10);
    expect(reads).toBe(0);
    now += 1_001;
    expect((await registry.find('zoho'))?.limits.accessTokensPerWindow).toBe(3);
    expect(reads).toBe(1);
  });
});

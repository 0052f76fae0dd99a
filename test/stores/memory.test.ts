import { memoryStores } from '../../src/stores/memory/memory-stores';
import { MemoryTokenStore } from '../../src/stores/memory/memory-token-store';
import { tokenBrowseContract } from './token-browse.contract';
import { tokenStoreContract } from './token-store.contract';
import { connectStoresContract } from './connect-stores.contract';

tokenStoreContract('memory', {
  open: async () => memoryStores(),
});

tokenBrowseContract('memory', async () => memoryStores());

connectStoresContract('memory', async () => memoryStores());

describe('MemoryTokenStore', () => {
  it('hands out copies: changing a returned token changes nothing stored', async () => {
    const store = new MemoryTokenStore();
    const t = await store.saveToken({ refreshToken: 'r', expiresAt: new Date(1000) });
    t.refreshToken = 'changed';
    t.expiresAt!.setTime(5);
    expect(await store.findTokenById(t.id)).toMatchObject({ refreshToken: 'r', expiresAt: new Date(1000) });
  });
});

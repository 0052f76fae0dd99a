/**
 * Importing a Zoho `DBStore` table from MariaDB: the 10-column table written
 * by the real TypeScript SDK's `DBStore`, and the older `user_mail` 9- and
 * 6-column tables, into a tokengate MySQL store (another database).
 */
import { importTokens, ImportRejectedError } from '../../src/interop/importer';
import { readZohoDbTable } from '../../src/interop/zoho-db';
import { ZohoFormatError } from '../../src/interop/zoho-format';
import { MemoryTokenStore } from '../../src/stores/memory/memory-token-store';
import { openStore } from '../../src/stores/open-store';
import type { Stores } from '../../src/stores/stores';
import type { TokenStore } from '../../src/stores/token-store';
import { testKeyring } from '../support/keys';
import { createScratchDatabase, describeWithMysql, type ScratchDatabase } from '../support/mysql';
import { fillZohoDatabase } from './zoho-sdk-files';

describeWithMysql('importing a Zoho DBStore table (MariaDB)', () => {
  let zoho: ScratchDatabase;
  let target: ScratchDatabase;
  let stores: Stores;
  let store: TokenStore;

  beforeAll(async () => {
    zoho = await createScratchDatabase('tg_zoho');
    target = await createScratchDatabase('tg_import');
    await fillZohoDatabase(zoho);
    stores = await openStore({ kind: 'mysql', url: target.url, table: 'oauthtoken', poolSize: 4 }, testKeyring());
    store = stores.tokens;
  });
  afterAll(async () => {
    await stores?.close();
    await zoho?.drop();
    await target?.drop();
  });

  it("imports the SDK's 10-column table keeping its ids, then finds it unchanged", async () => {
    expect(await importTokens(store, readZohoDbTable(zoho.url, 'oauthtoken'), { concurrency: 4 })).toMatchObject({ imported: 3, updated: 0, unchanged: 0 });
    expect((await store.findTokenById('1'))!).toMatchObject({
      userName: 'db1@example.com',
      clientSecret: 'odd,"secret"',
      refreshToken: '1000.db-r1',
      accessToken: '1000.db-a1',
      expiresAt: new Date(1767225600000),
      apiDomain: 'https://www.zohoapis.eu',
    });
    expect((await store.findTokenById('3'))!).toMatchObject({ userName: null, grantToken: '1000.db-grant3' });
    expect(await importTokens(store, readZohoDbTable(zoho.url, 'oauthtoken'))).toMatchObject({ imported: 0, updated: 0, unchanged: 3 });
  });

  it('reads the older user_mail 9-column table by column name, leaving api_domain alone', async () => {
    const memory = new MemoryTokenStore();
    expect(await importTokens(memory, readZohoDbTable(zoho.url, 'old_nine'))).toMatchObject({ imported: 2 });
    expect((await memory.findTokenById('1'))!).toMatchObject({
      userName: 'nine@example.com',
      refreshToken: '1000.r-nine',
      expiresAt: new Date(1767225600000),
      apiDomain: null,
    });
    expect((await memory.findTokenById('2'))!).toMatchObject({ accessToken: '1000.a-nine2', expiresAt: null });
  });

  it('refuses ids already stored for other users (two Zoho stores numbered alike), writing nothing', async () => {
    const err = (await importTokens(store, readZohoDbTable(zoho.url, 'old_nine')).catch((e: unknown) => e)) as ImportRejectedError;
    expect(err).toBeInstanceOf(ImportRejectedError);
    expect(err.invalid).toEqual([
      { where: 'row 1 (id 1)', problems: ['its id is stored for another user_name (id 1)'] },
      { where: 'row 2 (id 2)', problems: ['its id is stored for another user_name (id 2)'] },
    ]);
    expect((await store.findTokenById('1'))!.userName).toBe('db1@example.com');
  });

  it('reads the 6-column table, matching by user name', async () => {
    expect(await importTokens(store, readZohoDbTable(zoho.url, `${zoho.name}.old_six`))).toMatchObject({ imported: 1 });
    expect((await store.findToken({ userName: 'six@example.com' }))!).toMatchObject({
      refreshToken: '1000.r-six',
      accessToken: '1000.a-six',
      clientSecret: null,
    });
    expect(await importTokens(store, readZohoDbTable(zoho.url, 'old_six'))).toMatchObject({ unchanged: 1 });
  });

  it('says clearly when the table or the server is not there, never with the password', async () => {
    await expect(importTokens(store, readZohoDbTable(zoho.url, 'nope'))).rejects.toThrow(
      new ZohoFormatError(`the table nope does not exist in ${new URL(zoho.url).hostname}:3306/${zoho.name}`),
    );
    const err = (await importTokens(store, readZohoDbTable('mysql://someone:hunter2@127.0.0.1:1/zohooauth')).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/cannot reach the MySQL server at 127\.0\.0\.1:1\/zohooauth \(ECONNREFUSED\)/);
    expect(err.message).not.toContain('hunter2');
    await expect(importTokens(store, readZohoDbTable(zoho.url, 'x; DROP TABLE y'))).rejects.toThrow(/--table must be a plain table name/);
  });
});

import Database from 'better-sqlite3';
import type { Keyring } from '../../src/crypto/keyring';
import { SQLITE_TABLE, openStore } from '../../src/stores/open-store';
import { WRITE_COLUMNS, rowValues } from '../../src/stores/sql/token-row';
import { WRITABLE_FIELDS, type Token, type TokenInput } from '../../src/stores/token';

/**
 * Fills a gateway's SQLite file with `count` tokens before the gateway
 * starts, fast: the store's migrations create the tables, then the rows go
 * in through better-sqlite3 as one transaction of one prepared INSERT,
 * written exactly as the store writes them (`rowValues`: secrets encrypted
 * under `keyring`, lookup hashes beside them). `make(i)` gives the i-th
 * token's fields; its `id` is required (its order is the listing's).
 */
export async function seedSqliteTokens(file: string, keyring: Keyring, count: number, make: (i: number) => TokenInput & { id: string }): Promise<void> {
  const stores = await openStore({ kind: 'sqlite', path: file }, keyring);
  await stores.close();
  const db = new Database(file);
  try {
    // The lookup hash indexes take rows in random order: enough page cache keeps them in memory.
    db.pragma('cache_size = -131072');
    const insert = db.prepare(`INSERT INTO "${SQLITE_TABLE}" (id, ${WRITE_COLUMNS.join(', ')}) VALUES (?${', ?'.repeat(WRITE_COLUMNS.length)})`);
    const now = new Date();
    const blank: Record<string, unknown> = Object.fromEntries(WRITABLE_FIELDS.map((f) => [f, null]));
    db.transaction(() => {
      for (let i = 0; i < count; i++) {
        const token: Token = { ...blank, provider: 'zoho', createdAt: now, updatedAt: now, version: 1, ...make(i) } as Token;
        insert.run(token.id, ...rowValues(token, keyring));
      }
    })();
  } finally {
    db.close();
  }
}

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import type { AuditActor } from '../../src/audit/audit';
import { Keyring } from '../../src/crypto/keyring';
import { TokenStoreError } from '../../src/errors';
import { memoryStores } from '../../src/stores/memory/memory-stores';
import { openStore } from '../../src/stores/open-store';
import type { Stores } from '../../src/stores/stores';
import { createScratchDatabase, describeWithMysql, type ScratchDatabase } from '../support/mysql';

const ops: AuditActor = { role: 'operator', name: 'crm-sync', requestId: 'req-1' };
const SECRETS = {
  clientSecret: 'cs-' + randomBytes(8).toString('hex'),
  refreshToken: 'rt-' + randomBytes(8).toString('hex'),
  accessToken: 'at-' + randomBytes(8).toString('hex'),
};

interface Harness {
  open(): Promise<Stores>;
  /** Drops the audit table under the stores' feet (SQL stores). */
  dropAudit?(stores: Stores): Promise<void>;
}

/** The audit trail as every store keeps it. */
function auditContract(name: string, harness: Harness): void {
  describe(`audit trail in the store (${name})`, () => {
    let stores: Stores;
    beforeEach(async () => {
      stores = await harness.open();
    });
    afterEach(async () => {
      await stores.close();
    });

    it('records a save with its writer, the field names given and created/updated, in order', async () => {
      const t = await stores.tokens.saveToken({ userName: 'u@x', clientId: 'c', ...SECRETS }, { audit: { action: 'SAVE', actor: ops } });
      await stores.tokens.saveToken({ id: t.id, expiresAt: new Date() }, { audit: { action: 'IMPORT', actor: { role: 'system', name: 'cli' } } });
      await stores.tokens.saveToken({ id: t.id, accessToken: null });
      const { nodes } = await stores.audit.listAudit({ first: 10 });
      expect(nodes.map((e) => [e.action, e.actorRole, e.actorName, e.detail])).toEqual([
        ['SAVE', 'system', 'store', 'updated'],
        ['IMPORT', 'system', 'cli', 'updated'],
        ['SAVE', 'operator', 'crm-sync', 'created'],
      ]);
      expect(nodes[2]).toMatchObject({
        tokenId: t.id,
        outcome: 'OK',
        requestId: 'req-1',
        count: 1,
        fields: ['userName', 'clientId', 'clientSecret', 'refreshToken', 'accessToken'],
      });
      expect(nodes[0]!.fields).toEqual(['accessToken']);
      expect(Number(nodes[0]!.id)).toBeGreaterThan(Number(nodes[1]!.id));
      expect(JSON.stringify(nodes)).not.toMatch(new RegExp(Object.values(SECRETS).join('|')));
    });

    it('records nothing for a write that fails, and a deletion only when something was deleted', async () => {
      const a = await stores.tokens.saveToken({ userName: 'a@x', refreshToken: 'rt-a' });
      await expect(stores.tokens.saveToken({ userName: 'b@x', refreshToken: 'rt-a' }, { audit: { action: 'SAVE', actor: ops } })).rejects.toBeInstanceOf(
        TokenStoreError,
      );
      await expect(stores.tokens.saveToken({ id: a.id, expiresAt: new Date() }, { ifVersion: 99, audit: { action: 'SAVE', actor: ops } })).rejects.toThrow(
        /changed/,
      );
      expect(await stores.tokens.deleteToken('nope', { audit: { action: 'DELETE', actor: ops } })).toBe(false);
      expect(await stores.tokens.deleteToken(a.id, { audit: { action: 'DELETE', actor: ops } })).toBe(true);
      const { nodes } = await stores.audit.listAudit({ first: 10 });
      expect(nodes.map((e) => [e.action, e.tokenId, e.actorName])).toEqual([
        ['DELETE', a.id, 'crm-sync'],
        ['SAVE', a.id, 'store'],
      ]);
    });

    it('records one entry per token deleted by deleteTokens', async () => {
      const ids = [];
      for (let i = 0; i < 3; i++) ids.push((await stores.tokens.saveToken({ refreshToken: `r${i}` })).id);
      expect(await stores.tokens.deleteTokens({ audit: { action: 'DELETE_ALL', actor: { role: 'admin', name: 'ops' } } })).toBe(3);
      const { nodes } = await stores.audit.listAudit({ first: 10, actions: ['DELETE_ALL'] });
      expect(nodes.map((e) => e.tokenId).sort()).toEqual([...ids].sort());
      expect(nodes.every((e) => e.actorRole === 'admin' && e.actorName === 'ops')).toBe(true);
    });

    it('pages newest first with a stable cursor, by token and by action', async () => {
      const a = await stores.tokens.saveToken({ refreshToken: 'ra' });
      const b = await stores.tokens.saveToken({ refreshToken: 'rb' });
      await stores.audit.appendAudit(
        Array.from({ length: 7 }, (_, i) => ({
          action: 'READ_SECRET' as const,
          actor: ops,
          tokenId: i % 2 ? a.id : b.id,
          fields: ['accessToken'],
          count: i + 1,
        })),
      );
      const seen: string[] = [];
      let after: string | null = null;
      for (;;) {
        const page = await stores.audit.listAudit({ first: 2, after });
        seen.push(...page.nodes.map((e) => e.id));
        if (!page.hasNextPage) break;
        after = page.endCursor;
      }
      expect(seen).toHaveLength(9);
      expect([...seen].sort((x, y) => Number(y) - Number(x))).toEqual(seen);
      const ofA = await stores.audit.listAudit({ first: 100, tokenId: a.id });
      expect(ofA.nodes.map((e) => e.action)).toEqual(['READ_SECRET', 'READ_SECRET', 'READ_SECRET', 'SAVE']);
      expect(ofA.nodes.map((e) => e.count)).toEqual([6, 4, 2, 1]);
      expect((await stores.audit.listAudit({ first: 100, tokenId: a.id, actions: ['SAVE'] })).nodes).toHaveLength(1);
      await expect(stores.audit.listAudit({ first: 10, after: 'bogus' })).rejects.toMatchObject({ kind: 'INVALID_INPUT' });
      await expect(stores.audit.listAudit({ first: 0 })).rejects.toMatchObject({ kind: 'INVALID_INPUT' });
    });

    it('prunes entries older than a date', async () => {
      const day = 86_400_000;
      await stores.audit.appendAudit([
        { action: 'READ_SECRET', actor: ops, tokenId: 't1', at: new Date(Date.now() - 100 * day) },
        { action: 'READ_SECRET', actor: ops, tokenId: 't1', at: new Date(Date.now() - 91 * day) },
        { action: 'READ_SECRET', actor: ops, tokenId: 't1', at: new Date(Date.now() - 89 * day) },
      ]);
      expect(await stores.audit.pruneAudit(new Date(Date.now() - 90 * day))).toBe(2);
      expect((await stores.audit.listAudit({ first: 10 })).nodes).toHaveLength(1);
    });

    if (harness.dropAudit) {
      it("writes the entry in the write's transaction: when it cannot be written, the write does not happen", async () => {
        const t = await stores.tokens.saveToken({ userName: 'tx@x', refreshToken: 'rt-tx' });
        await harness.dropAudit!(stores);
        await expect(stores.tokens.saveToken({ id: t.id, refreshToken: 'rt-new' }, { audit: { action: 'SAVE', actor: ops } })).rejects.toBeInstanceOf(
          TokenStoreError,
        );
        await expect(stores.tokens.saveToken({ userName: 'other@x', refreshToken: 'rt-other' })).rejects.toBeInstanceOf(TokenStoreError);
        await expect(stores.tokens.deleteToken(t.id)).rejects.toBeInstanceOf(TokenStoreError);
        await expect(stores.tokens.deleteTokens()).rejects.toBeInstanceOf(TokenStoreError);
        expect((await stores.tokens.findTokenById(t.id))?.refreshToken).toBe('rt-tx');
        expect(await stores.tokens.findToken({ userName: 'other@x' })).toBeNull();
        expect(await stores.tokens.countTokens()).toBe(1);
      });
    }
  });
}

auditContract('memory', { open: async () => memoryStores() });

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
const sqliteFiles = new WeakMap<Stores, string>();
auditContract('sqlite', {
  open: async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tokengate-audit-'));
    dirs.push(dir);
    const file = path.join(dir, 'tokengate.db');
    const store = await openStore({ kind: 'sqlite', path: file }, new Keyring([randomBytes(32)]));
    sqliteFiles.set(store, file);
    return store;
  },
  dropAudit: async (store) => {
    const db = new Database(sqliteFiles.get(store)!);
    db.exec('DROP TABLE oauthtoken_audit');
    db.close();
  },
});

describeWithMysql('on MariaDB', () => {
  let db: ScratchDatabase;
  let n = 0;
  const tables = new WeakMap<Stores, string>();
  beforeAll(async () => {
    db = await createScratchDatabase('tg_audit');
  });
  afterAll(async () => {
    await db?.drop();
  });
  auditContract('mysql', {
    open: async () => {
      const table = `audit_t${++n}`;
      const store = await openStore({ kind: 'mysql', url: db.url, table, poolSize: 4 }, new Keyring([randomBytes(32)]));
      tables.set(store, table);
      return store;
    },
    dropAudit: async (store) => {
      const conn = await mysql.createConnection({ uri: db.url });
      await conn.query(`DROP TABLE \`${tables.get(store)}_audit\``);
      await conn.end();
    },
  });
});

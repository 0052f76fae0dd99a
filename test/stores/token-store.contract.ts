import { setImmediate as nextTurn } from 'node:timers/promises';
import { TokenStoreError } from '../../src/errors';
import type { Token, TokenInput } from '../../src/stores/token';
import type { Stores } from '../../src/stores/stores';
import type { TokenStore } from '../../src/stores/token-store';

/** How a backend's test file plugs into the contract suite. */
export interface StoreHarness {
  /** Fresh, empty stores. */
  open(): Promise<Stores>;
  /** Closes `stores` and opens the same data again; absent for a backend that keeps nothing (memory). */
  reopen?(stores: Stores): Promise<Stores>;
}

const expectStoreError = async (p: Promise<unknown>, operation: string, kind: string) => {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TokenStoreError);
  expect((err as TokenStoreError).operation).toBe(operation);
  expect((err as TokenStoreError).kind).toBe(kind);
  return err as TokenStoreError;
};

/** A comparable view of a token (the fields a caller sees). */
const view = (t: Token | null) => t && { ...t };

/**
 * The one contract every backend's `TokenStore` and `LeaseStore` pass.
 * Each backend's test file calls it first, then adds what only it has.
 */
export function tokenStoreContract(name: string, harness: StoreHarness): void {
  describe(`TokenStore contract (${name})`, () => {
    let stores: Stores;
    let store: TokenStore;

    beforeEach(async () => {
      stores = await harness.open();
      store = stores.tokens;
    });
    afterEach(async () => {
      await stores.close();
    });

    describe('findToken lookup order', () => {
      let a: Token;
      let b: Token;
      let c: Token;
      beforeEach(async () => {
        a = await store.saveToken({ userName: 'alice@example.com', clientId: 'c1', clientSecret: 's1', accessToken: 'at-a', refreshToken: 'rt-a' });
        b = await store.saveToken({ clientId: 'c1', clientSecret: 's1', accessToken: 'at-b', refreshToken: 'rt-b' });
        c = await store.saveToken({ clientId: 'c2', clientSecret: 's2', grantToken: 'gt-c' });
      });

      it('1. a user name wins over every other input', async () => {
        expect((await store.findToken({ userName: 'alice@example.com', accessToken: 'at-b', refreshToken: 'rt-b', grantToken: 'gt-c' }))?.id).toBe(a.id);
        expect(await store.findToken({ userName: 'nobody@example.com', refreshToken: 'rt-b' })).toBeNull();
      });

      it('2. an access token, only without client credentials', async () => {
        expect((await store.findToken({ accessToken: 'at-b' }))?.id).toBe(b.id);
        expect((await store.findToken({ accessToken: 'at-b', refreshToken: 'rt-a' }))?.id).toBe(b.id);
        // With a client id, rule 2 does not apply; rule 4 does.
        expect((await store.findToken({ accessToken: 'at-b', clientId: 'c1', refreshToken: 'rt-a' }))?.id).toBe(a.id);
        await expectStoreError(store.findToken({ accessToken: 'at-b', clientSecret: 's1' }), 'findToken', 'INVALID_INPUT');
      });

      it('3. a grant token before a refresh token', async () => {
        expect((await store.findToken({ grantToken: 'gt-c', refreshToken: 'rt-a', clientId: 'c2' }))?.id).toBe(c.id);
        expect((await store.findToken({ grantToken: 'gt-c' }))?.id).toBe(c.id);
      });

      it('4. a refresh token last', async () => {
        expect((await store.findToken({ refreshToken: 'rt-b' }))?.id).toBe(b.id);
        expect((await store.findToken({ refreshToken: 'rt-b', clientId: 'c1', clientSecret: 's1' }))?.id).toBe(b.id);
      });

      it('empty strings count as absent', async () => {
        expect((await store.findToken({ userName: '', grantToken: '', refreshToken: 'rt-b' }))?.id).toBe(b.id);
      });

      it('checks the client id for grant and refresh tokens', async () => {
        expect(await store.findToken({ refreshToken: 'rt-b', clientId: 'c2' })).toBeNull();
        expect(await store.findToken({ grantToken: 'gt-c', clientId: 'c1' })).toBeNull();
        expect((await store.findToken({ grantToken: 'gt-c', clientId: 'c2' }))?.id).toBe(c.id);
      });

      it('returns the whole token, secrets decrypted', async () => {
        const found = await store.findToken({ refreshToken: 'rt-a' });
        expect(found).toEqual(a);
        expect(found).toMatchObject({ userName: 'alice@example.com', clientSecret: 's1', accessToken: 'at-a', refreshToken: 'rt-a', grantToken: null });
      });

      it('refuses a partial that names nothing to look up', async () => {
        await expectStoreError(store.findToken({}), 'findToken', 'INVALID_INPUT');
        await expectStoreError(store.findToken({ clientId: 'c1', clientSecret: 's1' }), 'findToken', 'INVALID_INPUT');
        await expectStoreError(store.findToken({ userName: '', refreshToken: '' }), 'findToken', 'INVALID_INPUT');
      });

      it('answers null when nothing matches', async () => {
        expect(await store.findToken({ accessToken: 'nope' })).toBeNull();
        expect(await store.findToken({ grantToken: 'nope' })).toBeNull();
        expect(await store.findToken({ refreshToken: 'nope' })).toBeNull();
      });
    });

    describe('saveToken', () => {
      it('inserts with a generated, URL-safe, unique id and timestamps', async () => {
        const before = Date.now();
        const t1 = await store.saveToken({ refreshToken: 'r1', clientId: 'c' });
        const t2 = await store.saveToken({ refreshToken: 'r2', clientId: 'c' });
        expect(t1.id).toMatch(/^[A-Za-z0-9_-]{8,}$/);
        expect(t1.id).not.toBe(t2.id);
        expect(t1.createdAt.getTime()).toBeGreaterThanOrEqual(before - 5);
        expect(t1.updatedAt.getTime()).toBe(t1.createdAt.getTime());
        expect(await store.findTokenById(t1.id)).toEqual(t1);
      });

      it('refuses a token without any access, refresh or grant token, and stores nothing', async () => {
        await expectStoreError(store.saveToken({ userName: 'u@x', clientId: 'c', clientSecret: 's' }), 'saveToken', 'INVALID_INPUT');
        await expectStoreError(store.saveToken({ id: 'only-id' }), 'saveToken', 'INVALID_INPUT');
        expect(await store.getTokens()).toEqual([]);
      });

      it('refuses clearing the last token of a stored one, and keeps it', async () => {
        const t = await store.saveToken({ userName: 'u@x', refreshToken: 'r' });
        await expectStoreError(store.saveToken({ id: t.id, refreshToken: null }), 'saveToken', 'INVALID_INPUT');
        expect(await store.findTokenById(t.id)).toEqual(t);
      });

      it('upserts by id: inserts that id, then updates only the given fields; null clears', async () => {
        const t = await store.saveToken({
          id: '1001',
          userName: 'zoho@x',
          clientId: 'c',
          clientSecret: 's',
          refreshToken: 'r',
          accessToken: 'a',
          expiresAt: new Date(2_000_000_000_000),
          apiDomain: 'https://www.zohoapis.eu',
        });
        expect(t.id).toBe('1001');
        const u = await store.saveToken({ id: '1001', accessToken: 'a2', apiDomain: null });
        expect(u).toMatchObject({
          id: '1001',
          userName: 'zoho@x',
          clientSecret: 's',
          refreshToken: 'r',
          accessToken: 'a2',
          apiDomain: null,
          expiresAt: new Date(2_000_000_000_000),
        });
        expect(u.version).toBe(t.version + 1);
        expect(u.createdAt).toEqual(t.createdAt);
        expect(await store.getTokens()).toHaveLength(1);
        expect(await store.findTokenById('1001')).toEqual(u);
        // The old access token no longer finds it; the new one does.
        expect(await store.findToken({ accessToken: 'a' })).toBeNull();
        expect((await store.findToken({ accessToken: 'a2' }))?.id).toBe('1001');
      });

      it.each([
        ['userName', { userName: 'same@x', refreshToken: 'r-new' }],
        ['accessToken', { accessToken: 'a-same', expiresAt: new Date(1_900_000_000_000) }],
        ['grantToken', { grantToken: 'g-same', clientId: 'c', clientSecret: 's', accessToken: 'a-from-grant' }],
        ['refreshToken', { refreshToken: 'r-same', clientId: 'c', clientSecret: 's', accessToken: 'a-new' }],
      ] as Array<[string, TokenInput]>)('upserts by the %s rule', async (_rule, update) => {
        const first = await store.saveToken({
          userName: 'same@x',
          accessToken: 'a-same',
          grantToken: 'g-same',
          refreshToken: 'r-same',
          clientId: 'c',
          clientSecret: 's',
        });
        const second = await store.saveToken(update);
        expect(second.id).toBe(first.id);
        expect(await store.getTokens()).toHaveLength(1);
        expect(await store.findTokenById(first.id)).toMatchObject(update);
      });

      it('ends as one row after 20 concurrent saves of one user', async () => {
        const saved = await Promise.all(
          Array.from({ length: 20 }, (_, i) => store.saveToken({ userName: 'race@x', accessToken: `a-${i}`, refreshToken: 'r-race', clientId: 'c' })),
        );
        const all = await store.getTokens();
        expect(all).toHaveLength(1);
        expect(new Set(saved.map((t) => t.id))).toEqual(new Set([all[0]!.id]));
        expect(all[0]!.version).toBe(20);
      });

      it('ends as one row after 20 concurrent saves of one refresh token', async () => {
        const saved = await Promise.all(
          Array.from({ length: 20 }, (_, i) => store.saveToken({ refreshToken: 'r-shared', clientId: 'c', clientSecret: 's', accessToken: `a-${i}` })),
        );
        const all = await store.getTokens();
        expect(all).toHaveLength(1);
        expect(new Set(saved.map((t) => t.id)).size).toBe(1);
        expect(await store.findToken({ refreshToken: 'r-shared', clientId: 'c' })).toEqual(all[0]);
      });

      it('refuses a user name or secret that another token holds, and changes nothing', async () => {
        const a = await store.saveToken({ userName: 'a@x', refreshToken: 'ra', accessToken: 'aa' });
        const b = await store.saveToken({ userName: 'b@x', refreshToken: 'rb' });
        await expectStoreError(store.saveToken({ id: b.id, refreshToken: 'ra' }), 'saveToken', 'CONFLICT');
        await expectStoreError(store.saveToken({ id: b.id, userName: 'a@x' }), 'saveToken', 'CONFLICT');
        await expectStoreError(store.saveToken({ id: b.id, accessToken: 'aa' }), 'saveToken', 'CONFLICT');
        await expectStoreError(store.saveToken({ userName: 'c@x', refreshToken: 'ra' }), 'saveToken', 'CONFLICT');
        expect(await store.findTokenById(a.id)).toEqual(a);
        expect(await store.findTokenById(b.id)).toEqual(b);
        expect(await store.getTokens()).toHaveLength(2);
      });

      it("refuses a save that would take over another client's token by its refresh or grant token", async () => {
        const t = await store.saveToken({ clientId: 'c1', clientSecret: 's1', refreshToken: 'rt-c1', grantToken: 'gt-c1' });
        await expectStoreError(store.saveToken({ clientId: 'c2', clientSecret: 's2', refreshToken: 'rt-c1' }), 'saveToken', 'CONFLICT');
        await expectStoreError(store.saveToken({ clientId: 'c2', clientSecret: 's2', grantToken: 'gt-c1' }), 'saveToken', 'CONFLICT');
        expect(await store.getTokens()).toEqual([t]);
      });

      it('refuses strings that are not valid Unicode (a lone surrogate)', async () => {
        await expectStoreError(store.saveToken({ userName: 'u\ud800', refreshToken: 'r' }), 'saveToken', 'INVALID_INPUT');
        await expectStoreError(store.saveToken({ refreshToken: 'r\udc00x' }), 'saveToken', 'INVALID_INPUT');
        expect(await store.getTokens()).toEqual([]);
        expect((await store.saveToken({ userName: 'emoji 🙂', refreshToken: 'r' })).userName).toBe('emoji 🙂');
      });

      it('writes with compare-and-swap when asked, and changes nothing when the version moved', async () => {
        const t = await store.saveToken({ refreshToken: 'r', clientId: 'c' });
        const u = await store.saveToken({ id: t.id, accessToken: 'a1' }, { ifVersion: t.version });
        expect(u.version).toBe(t.version + 1);
        await expectStoreError(store.saveToken({ id: t.id, accessToken: 'a2' }, { ifVersion: t.version }), 'saveToken', 'CONFLICT');
        expect(await store.findTokenById(t.id)).toEqual(u);
      });

      it('refuses malformed input and changes nothing', async () => {
        const t = await store.saveToken({ userName: 'keep@x', refreshToken: 'r' });
        await expectStoreError(store.saveToken({ id: t.id, userName: 'x'.repeat(256) }), 'saveToken', 'INVALID_INPUT');
        await expectStoreError(store.saveToken({ id: t.id, expiresAt: new Date(NaN) }), 'saveToken', 'INVALID_INPUT');
        await expectStoreError(store.saveToken({ id: 'has space', refreshToken: 'x' }), 'saveToken', 'INVALID_INPUT');
        await expectStoreError(store.saveToken({ id: 'x'.repeat(129), refreshToken: 'x' }), 'saveToken', 'INVALID_INPUT');
        await expectStoreError(store.saveToken({ id: t.id, accessToken: 'a\u0000b' }), 'saveToken', 'INVALID_INPUT');
        expect(await store.getTokens()).toEqual([t]);
      });
    });

    describe('hostile strings are stored and matched literally', () => {
      const hostile = [
        "' OR '1'='1",
        "x'; DROP TABLE oauthtoken; --",
        '" OR ""="',
        '%',
        '_',
        'a%',
        'a_c',
        '\\',
        '\\%',
        'Ünïcødé 🙂 名前',
        'bob@example.com',
        'BOB@example.com',
        'bob@example.com ',
        'e\u0301', // e + combining accent
        '\u00e9', // precomposed é
      ];

      it('as user names', async () => {
        const saved = new Map<string, string>();
        for (const [i, name] of hostile.entries()) saved.set(name, (await store.saveToken({ userName: name, refreshToken: `r-${i}` })).id);
        expect(await store.getTokens()).toHaveLength(hostile.length);
        for (const name of hostile) {
          const found = await store.findToken({ userName: name });
          expect(found?.userName).toBe(name);
          expect(found?.id).toBe(saved.get(name));
        }
        expect(await store.findToken({ userName: 'abc' })).toBeNull(); // not matched by 'a_c'
        expect(await store.findToken({ userName: 'ab' })).toBeNull(); // not matched by 'a%'
        expect(await store.findToken({ userName: 'Bob@example.com' })).toBeNull();
      });

      it('as secrets and other fields', async () => {
        for (const [i, value] of hostile.entries()) {
          const t = await store.saveToken({ refreshToken: value, accessToken: `${value}-a`, clientId: `c-${value}`, clientSecret: value, redirectUrl: value });
          const found = await store.findToken({ refreshToken: value, clientId: `c-${value}` });
          expect(found).toEqual(t);
          expect(found).toMatchObject({ refreshToken: value, clientSecret: value, redirectUrl: value });
          expect((await store.findToken({ accessToken: `${value}-a` }))?.id).toBe(t.id);
          expect(i).toBeLessThan(hostile.length);
        }
        expect(await store.getTokens()).toHaveLength(hostile.length);
      });
    });

    describe('listing', () => {
      it('pages 10,000 tokens exactly once each, never more than a page at a time', async () => {
        const ids = new Set<string>();
        const batch = 50;
        for (let i = 0; i < 10_000; i += batch) {
          const saved = await Promise.all(Array.from({ length: batch }, (_, j) => store.saveToken({ refreshToken: `bulk-${i + j}`, clientId: 'c' })));
          for (const t of saved) ids.add(t.id);
        }
        expect(ids.size).toBe(10_000);
        expect(await store.countTokens()).toBe(10_000);
        const seen = new Set<string>();
        let after: string | null = null;
        let pages = 0;
        for (;;) {
          const page = await store.listTokens(1000, after);
          expect(page.nodes.length).toBeLessThanOrEqual(1000);
          for (const t of page.nodes) {
            expect(seen.has(t.id)).toBe(false);
            seen.add(t.id);
          }
          pages++;
          if (!page.hasNextPage) break;
          after = page.endCursor;
        }
        expect(pages).toBe(10);
        expect(seen).toEqual(ids);
      }, 300_000);

      it('keeps its order stable while tokens come and go', async () => {
        const ids: string[] = [];
        for (let i = 0; i < 30; i++) ids.push((await store.saveToken({ id: `id-${String(i).padStart(3, '0')}`, refreshToken: `r${i}` })).id);
        const first = await store.listTokens(10);
        expect(first.nodes.map((t) => t.id)).toEqual(ids.slice(0, 10));
        await store.deleteToken(ids[2]!); // already seen
        await store.deleteToken(ids[15]!); // not yet seen: must not appear
        await store.saveToken({ id: 'id-000a', refreshToken: 'seen-side' }); // sorts before the cursor: not seen
        const rest: string[] = [];
        let after = first.endCursor;
        for (;;) {
          const page = await store.listTokens(10, after);
          rest.push(...page.nodes.map((t) => t.id));
          if (!page.hasNextPage) break;
          after = page.endCursor;
        }
        expect(rest).toEqual(ids.slice(10).filter((id) => id !== ids[15]));
      });

      it('answers an empty store', async () => {
        expect(await store.getTokens()).toEqual([]);
        expect(await store.listTokens(10)).toEqual({ nodes: [], endCursor: null, hasNextPage: false });
        expect(await store.countTokens()).toBe(0);
      });

      it('refuses a malformed cursor and an out-of-range page size', async () => {
        await expectStoreError(store.listTokens(10, 'not-a-cursor!'), 'listTokens', 'INVALID_INPUT');
        await expectStoreError(store.listTokens(10, Buffer.from('x:1').toString('base64url')), 'listTokens', 'INVALID_INPUT');
        await expectStoreError(store.listTokens(0), 'listTokens', 'INVALID_INPUT');
        await expectStoreError(store.listTokens(1001), 'listTokens', 'INVALID_INPUT');
      });
    });

    describe('deleting', () => {
      it('deleteToken removes one and says whether it was there', async () => {
        const a = await store.saveToken({ refreshToken: 'ra' });
        const b = await store.saveToken({ refreshToken: 'rb' });
        expect(await store.deleteToken(a.id)).toBe(true);
        expect(await store.deleteToken(a.id)).toBe(false);
        expect(await store.deleteToken('never-was')).toBe(false);
        expect(await store.findTokenById(a.id)).toBeNull();
        expect(await store.findToken({ refreshToken: 'ra' })).toBeNull();
        expect(await store.getTokens()).toEqual([b]);
        // A deleted token's secrets are free again.
        expect((await store.saveToken({ refreshToken: 'ra' })).id).not.toBe(a.id);
      });

      it('deleteTokens removes all and says how many', async () => {
        for (let i = 0; i < 5; i++) await store.saveToken({ refreshToken: `r${i}` });
        expect(await store.deleteTokens()).toBe(5);
        expect(await store.deleteTokens()).toBe(0);
        expect(await store.getTokens()).toEqual([]);
      });

      it('findTokenById answers null for an unknown id', async () => {
        expect(await store.findTokenById('unknown')).toBeNull();
      });
    });

    describe('refresh leases', () => {
      it('one owner at a time; released or run out, another takes it', async () => {
        const t = await store.saveToken({ refreshToken: 'r' });
        expect(await stores.leases.acquireLease(t.id, 'p1', 10_000)).toBe(true);
        expect(await stores.leases.acquireLease(t.id, 'p2', 10_000)).toBe(false);
        expect(await stores.leases.acquireLease(t.id, 'p1', 10_000)).toBe(true); // re-entrant for its owner
        await stores.leases.releaseLease(t.id, 'p2'); // not the owner: no effect
        expect(await stores.leases.acquireLease(t.id, 'p2', 10_000)).toBe(false);
        await stores.leases.releaseLease(t.id, 'p1');
        const taken = Date.now();
        expect(await stores.leases.acquireLease(t.id, 'p2', 150)).toBe(true);
        // Run out by the store's clock: another owner asks again each turn until it gets the lease.
        let ranOut = false;
        while (!ranOut && Date.now() - taken < 10_000) {
          ranOut = await stores.leases.acquireLease(t.id, 'p3', 10_000);
          if (!ranOut) await nextTurn();
        }
        expect(ranOut).toBe(true);
        expect(Date.now() - taken).toBeGreaterThanOrEqual(140); // not before its 150 ms (give or take the store clock's rounding)
        expect(await stores.leases.acquireLease('unknown', 'p1', 10_000)).toBe(false);
        // A lease is not a change of the token.
        expect(view(await store.findTokenById(t.id))).toEqual(view(t));
      });
    });

    it('finds refresh candidates: expiring or without access token, never failed or tokenless', async () => {
      const now = Date.now();
      const soon = await store.saveToken({ refreshToken: 'r1', accessToken: 'a1', expiresAt: new Date(now + 60_000) });
      const later = await store.saveToken({ refreshToken: 'r2', accessToken: 'a2', expiresAt: new Date(now + 3_600_000) });
      const none = await store.saveToken({ refreshToken: 'r3' });
      const grant = await store.saveToken({ grantToken: 'g4' });
      await store.saveToken({ refreshToken: 'r5', expiresAt: new Date(now - 1000), failedAt: new Date(), lastError: 'invalid_code' });
      await store.saveToken({ accessToken: 'a6', expiresAt: new Date(now - 1000) });
      const ids = await stores.leases.findRefreshCandidates(new Date(now + 300_000), 10);
      expect(new Set(ids)).toEqual(new Set([soon.id, none.id, grant.id]));
      expect(ids).not.toContain(later.id);
      expect(await stores.leases.findRefreshCandidates(new Date(now + 300_000), 1)).toHaveLength(1);
    });

    if (harness.reopen) {
      it('keeps every token across a reopen', async () => {
        const saved = [
          await store.saveToken({
            userName: 'p@x',
            clientId: 'c',
            clientSecret: 's',
            refreshToken: 'r',
            accessToken: 'a',
            expiresAt: new Date(1_900_000_000_123),
          }),
          await store.saveToken({ grantToken: 'g', redirectUrl: 'https://app.example.com/cb' }),
        ];
        stores = await harness.reopen!(stores);
        store = stores.tokens;
        expect(await store.getTokens()).toEqual([...saved].sort((x, y) => (x.id < y.id ? -1 : 1)));
        expect((await store.findToken({ refreshToken: 'r' }))?.id).toBe(saved[0]!.id);
      });
    }
  });
}

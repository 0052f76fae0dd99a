import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Keyring } from '../../src/crypto/keyring';
import { Governor } from '../../src/providers/governor';
import { zohoProfile } from '../../src/providers/zoho';
import { memoryStores } from '../../src/stores/memory/memory-stores';
import { openStore } from '../../src/stores/open-store';
import type { Stores } from '../../src/stores/stores';
import { startFakeAccountsServer, type FakeAccountsServer } from '../support/fake-accounts-server';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { createScratchDatabase, mysqlAvailable, type ScratchDatabase } from '../support/mysql';

/**
 * The governor's remaining budget per token (`Token.budget`, the dashboard's
 * column): what a caller may still mint, when the window is whole again and
 * when the next mint is allowed, on every store; read for a whole page in
 * one store call; visible to a viewer.
 */
const S = 1000;
const MIN = 60 * S;

const dirs: string[] = [];
let scratch: ScratchDatabase | null = null;
afterAll(async () => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  await scratch?.drop();
});

const openers: Record<'memory' | 'sqlite' | 'mysql', () => Promise<Stores>> = {
  memory: async () => memoryStores(),
  sqlite: async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tokengate-budget-'));
    dirs.push(dir);
    return openStore({ kind: 'sqlite', path: path.join(dir, 'tokengate.db') }, new Keyring([randomBytes(32)]));
  },
  mysql: async () => {
    scratch ??= await createScratchDatabase('tg_budget');
    return openStore({ kind: 'mysql', url: scratch.url, table: `budget_${randomBytes(4).toString('hex')}` }, new Keyring([randomBytes(32)]));
  },
};

describe.each(['memory', 'sqlite', 'mysql'] as const)('Governor.budgets (%s)', (kind) => {
  let clock = 0;
  let stores: Stores;
  let governor: Governor;
  const zoho = zohoProfile();

  beforeEach(async () => {
    if (kind === 'mysql' && !(await mysqlAvailable())) return;
    clock = 1_000_000_000_000;
    stores = await openers[kind]();
    governor = new Governor({ store: stores.governor, leaseMs: 30 * S, now: () => clock });
  });
  afterEach(async () => {
    await stores?.close();
  });

  const mint = async (id: string) => {
    const v = await governor.permit('refresh', { id, clientId: 'c' }, zoho);
    if (!v.allowed) throw new Error(`refused: ${v.reason}`);
    await v.permit.minted(clock);
  };

  it('says what is left in the window, when it is whole again and when the next mint may go', async () => {
    if (kind === 'mysql' && !(await mysqlAvailable())) return;
    const start = clock;
    for (let i = 0; i < 3; i++) {
      await mint('some');
      clock += MIN;
    }
    for (let i = 0; i < 10; i++) {
      await mint('spent');
      clock += 10 * S;
    }
    await governor.block({ id: 'blocked' }, zoho);
    const budgets = await governor.budgets([
      { id: 'fresh', profile: zoho },
      { id: 'some', profile: zoho },
      { id: 'spent', profile: zoho },
      { id: 'blocked', profile: zoho },
      { id: 'free', profile: zohoProfile({ accessTokensPerWindow: null }) },
      { id: 'unknown', profile: null },
    ]);
    expect(Object.fromEntries(budgets)).toEqual({
      fresh: { left: 10, perWindow: 10, windowSeconds: 600, resetsAt: null, nextAt: null },
      some: { left: 7, perWindow: 10, windowSeconds: 600, resetsAt: start + 2 * MIN + 10 * MIN, nextAt: null },
      spent: { left: 0, perWindow: 10, windowSeconds: 600, resetsAt: start + 3 * MIN + 90 * S + 10 * MIN, nextAt: start + 3 * MIN + 10 * MIN },
      blocked: { left: 0, perWindow: 10, windowSeconds: 600, resetsAt: clock + 10 * MIN, nextAt: clock + 10 * MIN },
      free: null,
      unknown: null,
    });
    // The budget agrees with the governor's decisions.
    expect(await governor.permit('refresh', { id: 'spent', clientId: 'c' }, zoho)).toMatchObject({ allowed: false, retryAt: budgets.get('spent')!.nextAt });
    clock = start + 3 * MIN + 10 * MIN;
    expect((await governor.budgets([{ id: 'spent', profile: zoho }])).get('spent')).toMatchObject({ left: 1, nextAt: null });
    expect((await governor.permit('refresh', { id: 'spent', clientId: 'c' }, zoho)).allowed).toBe(true);
  });

  it('counts the alive cap too, and reads many subjects in one call', async () => {
    if (kind === 'mysql' && !(await mysqlAvailable())) return;
    const tight = zohoProfile({ maxAliveAccessTokens: 2 });
    for (let i = 0; i < 2; i++) {
      const v = await governor.permit('refresh', { id: 'alive', clientId: 'c' }, tight);
      if (v.allowed) await v.permit.minted(clock);
    }
    expect((await governor.budgets([{ id: 'alive', profile: tight }])).get('alive')).toMatchObject({ left: 0, nextAt: clock + 3600 * S });
    const ids = Array.from({ length: 60 }, (_, i) => `many-${i}`);
    const states = await stores.governor.readSubjects([...ids.map((id) => `t:${id}`), 't:alive', 't:alive'], clock - 10 * MIN, clock);
    expect(states.map((s) => s.subject)).toEqual([...ids.map((id) => `t:${id}`), 't:alive']);
    expect(states.at(-1)!.mints).toHaveLength(2);
    expect(await stores.governor.readSubjects([], clock, clock)).toEqual([]);
  });
});

describe('Token.budget through the API (sqlite)', () => {
  let accounts: FakeAccountsServer;
  let gw: TestGateway;
  const clientId = '1000.BUDGETCLIENT';
  const clientSecret = 'budget-secret';

  beforeAll(async () => {
    accounts = await startFakeAccountsServer();
    accounts.addClient(clientId, clientSecret);
    gw = await startTestGateway({ store: 'sqlite', env: { TOKENGATE_ACCOUNTS_URL: accounts.url } });
  });
  afterAll(async () => {
    await gw?.close();
    await accounts?.close();
  });

  /** How many times the store has read the governor's counters for showing. */
  const reads = async () => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    return Number(/tokengate_store_operation_duration_seconds_count\{operation="readSubjects",outcome="ok"\} (\d+)/.exec(text)?.[1] ?? 0);
  };

  it('shows a viewer each token of a page of 50 with its budget, read in one store call', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) {
      const t = await gw.gateway.stores.tokens.saveToken({
        id: `budget-${String(i).padStart(2, '0')}`,
        userName: `budget${i}@example.com`,
        clientId,
        clientSecret,
        refreshToken: accounts.addRefreshToken(clientId),
        accountsUrl: accounts.url,
      });
      ids.push(t.id);
    }
    for (let i = 0; i < 3; i++) expect((await gw.gql(`mutation { refresh(id: "${ids[7]}") { id } }`, {}, gw.keys.operator)).body.errors).toBeUndefined();
    const before = await reads();
    const r = await gw.gql(
      `{ tokens(first: 50, userNameContains: "budget") { nodes { id budget { accessTokensLeft accessTokensPerWindow windowSeconds resetsAt nextAt } } } }`,
      {},
      gw.keys.viewer,
    );
    expect(r.body.errors).toBeUndefined();
    const nodes: Array<{ id: string; budget: Record<string, unknown> }> = r.body.data.tokens.nodes;
    expect(nodes).toHaveLength(50);
    expect(await reads()).toBe(before + 1);
    const spent = nodes.find((n) => n.id === ids[7])!.budget;
    expect(spent).toMatchObject({ accessTokensLeft: 7, accessTokensPerWindow: 10, windowSeconds: 600, nextAt: null });
    expect(Date.parse(spent.resetsAt as string)).toBeGreaterThan(Date.now() + 9 * MIN);
    expect(nodes.filter((n) => n.id !== ids[7]).map((n) => n.budget)).toEqual(
      Array(49).fill({ accessTokensLeft: 10, accessTokensPerWindow: 10, windowSeconds: 600, resetsAt: null, nextAt: null }),
    );
    // One token asked alone gets its own.
    const one = await gw.gql(`{ tokenById(id: "${ids[7]}") { budget { accessTokensLeft } } }`, {}, gw.keys.viewer);
    expect(one.body.data.tokenById.budget).toEqual({ accessTokensLeft: 7 });
  });

  it('is null for a provider without a per-window limit', async () => {
    const saved = await gw.gql(
      `mutation { saveProvider(provider: { name: "unlimited", tokenUrl: "${accounts.url}/oauth/v2/token" }) { name } }`,
      {},
      gw.keys.admin,
    );
    expect(saved.body.errors).toBeUndefined();
    const t = await gw.gql(
      `mutation { saveToken(token: { provider: "unlimited", refreshToken: "free-rt", clientId: "c" }) { id budget { accessTokensLeft } } }`,
      {},
      gw.keys.operator,
    );
    expect(t.body.errors).toBeUndefined();
    expect(t.body.data.saveToken.budget).toBeNull();
  });
});

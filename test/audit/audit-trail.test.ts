import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Registry } from 'prom-client';
import type { AuditActor, AuditEntry } from '../../src/audit/audit';
import { AuditTrail, type AuditTrailOptions } from '../../src/audit/audit-trail';
import { Keyring } from '../../src/crypto/keyring';
import { createLogger } from '../../src/logger';
import type { AuditLog } from '../../src/stores/audit-log';
import { memoryStores } from '../../src/stores/memory/memory-stores';
import { openStore } from '../../src/stores/open-store';
import type { Stores } from '../../src/stores/stores';
import { startTestGateway, type TestGateway } from '../support/gateway';

const admin: AuditActor = { role: 'admin', name: 'ops-console' };

/** A trail on a real store, with its own registry and a log captured as JSON lines. */
function trailOn(store: AuditLog, options: Partial<AuditTrailOptions> = {}) {
  const registry = new Registry();
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  const trail = new AuditTrail({ store, logger: createLogger('info', sink), retentionDays: 0, registry, ...options });
  const lost = async () => {
    const values = (await registry.getSingleMetric('tokengate_audit_entries_lost_total')!.get()).values;
    const of = (reason: string) => values.find((v) => v.labels.reason === reason)?.value ?? 0;
    return { overflow: of('overflow'), store: of('store') };
  };
  const warnings = () => lines.map((l) => JSON.parse(l) as { level: string; msg: string; lost?: unknown }).filter((l) => l.level === 'warn');
  return { trail, lost, warnings };
}

/** Every READ_SECRET entry in the store, through `listAudit`. */
async function readEntries(store: AuditLog): Promise<AuditEntry[]> {
  const all: AuditEntry[] = [];
  let after: string | null = null;
  for (;;) {
    const page = await store.listAudit({ first: 1000, after, actions: ['READ_SECRET'] });
    all.push(...page.nodes);
    if (!page.hasNextPage) return all;
    after = page.endCursor;
  }
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
async function openSqlite(): Promise<Stores> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tokengate-audit-trail-'));
  dirs.push(dir);
  return openStore({ kind: 'sqlite', path: path.join(dir, 'tokengate.db') }, new Keyring([randomBytes(32)]));
}

const STORES: Array<[string, () => Promise<Stores>]> = [
  ['memory', async () => memoryStores()],
  ['sqlite', openSqlite],
];

describe.each(STORES)('read audit under a burst (%s store)', (_name, open) => {
  let store: Stores;
  beforeEach(async () => {
    store = await open();
  });
  afterEach(async () => {
    await store.close();
  });

  it('records 30,000 distinct reads made at once, losing none, and writes them in batches without waiting for the timer', async () => {
    // A window far longer than the test: whatever reaches the store before close() was written because a batch filled up.
    // Waiters are told when the backlog is down to one batch (never by a timeout within the test).
    const { trail, lost, warnings } = trailOn(store.audit, { flushMs: 600_000, waitAbove: 1000, maxWaitMs: 600_000 });
    const at = new Date();
    for (let i = 0; i < 30_000; i++) trail.record({ action: 'READ_SECRET', actor: admin, tokenId: `t${i}`, fields: ['accessToken'], at });
    expect(trail.backlog).toBe(30_000);
    // Neither the timer nor a flush: the backlog falls because full batches were handed to the store.
    await trail.backpressure();
    expect(trail.backlog).toBeLessThanOrEqual(1000);
    expect((await store.audit.listAudit({ first: 1, actions: ['READ_SECRET'] })).nodes).toHaveLength(1);
    await trail.close();

    const entries = await readEntries(store.audit);
    expect(entries).toHaveLength(30_000);
    expect(new Set(entries.map((e) => e.tokenId)).size).toBe(30_000);
    for (const e of entries) expect(e).toMatchObject({ actorRole: 'admin', actorName: 'ops-console', fields: ['accessToken'], count: 1 });
    expect(await lost()).toEqual({ overflow: 0, store: 0 });
    expect(warnings()).toEqual([]);
  });

  it('keeps up with a client paging fast: 40 pages of 1,000 reads, one page per turn of the event loop, its responses held back only while 5,000 wait', async () => {
    const { trail, lost } = trailOn(store.audit);
    let most = 0;
    for (let page = 0; page < 40; page++) {
      for (let i = 0; i < 1000; i++) trail.record({ action: 'READ_SECRET', actor: admin, tokenId: `p${page}-${i}`, fields: ['accessToken', 'refreshToken'] });
      most = Math.max(most, trail.backlog);
      // As a response that read secrets does (the store may write off the event loop, so a batch can still be in flight).
      await trail.backpressure();
      await nextTurn();
    }
    await trail.flush();
    expect(trail.backlog).toBe(0);
    expect(most).toBeLessThanOrEqual(6000);
    const entries = await readEntries(store.audit);
    expect(entries).toHaveLength(40_000);
    expect(await lost()).toEqual({ overflow: 0, store: 0 });
    await trail.close();
  });

  it('still coalesces identical reads within a window into one entry with a count', async () => {
    const { trail } = trailOn(store.audit, { flushMs: 600_000, batchSize: 10 });
    for (let n = 0; n < 5; n++) {
      trail.record({ action: 'READ_SECRET', actor: admin, tokenId: 'same', fields: ['refreshToken', 'accessToken'] });
      trail.record({ action: 'READ_SECRET', actor: admin, tokenId: 'same', fields: ['accessToken', 'refreshToken'] });
    }
    trail.record({ action: 'READ_SECRET', actor: { role: 'operator', name: 'crm-sync' }, tokenId: 'same', fields: ['accessToken'] });
    expect(trail.backlog).toBe(2);
    await trail.flush();
    // The next window starts a new entry.
    trail.record({ action: 'READ_SECRET', actor: admin, tokenId: 'same', fields: ['accessToken', 'refreshToken'] });
    await trail.close();
    const entries = await readEntries(store.audit);
    expect(entries.map((e) => [e.actorName, [...(e.fields ?? [])].sort(), e.count])).toEqual([
      ['ops-console', ['accessToken', 'refreshToken'], 1],
      ['crm-sync', ['accessToken'], 1],
      ['ops-console', ['accessToken', 'refreshToken'], 10],
    ]);
  });

  it('close() writes what is waiting, and the trail records nothing after it', async () => {
    const { trail, lost } = trailOn(store.audit, { flushMs: 600_000 });
    for (let i = 0; i < 2500; i++) trail.record({ action: 'READ_SECRET', actor: admin, tokenId: `c${i}`, fields: ['clientSecret'] });
    await trail.close();
    expect(trail.backlog).toBe(0);
    trail.record({ action: 'READ_SECRET', actor: admin, tokenId: 'late', fields: ['clientSecret'] });
    expect(trail.backlog).toBe(0);
    expect(trail.backpressure()).toBeNull();
    const entries = await readEntries(store.audit);
    expect(entries).toHaveLength(2500);
    expect(entries.some((e) => e.tokenId === 'late')).toBe(false);
    expect(await lost()).toEqual({ overflow: 0, store: 0 });
  });

  it('makes a reader wait only while the store is behind by more than waitAbove entries', async () => {
    const { trail, lost } = trailOn(store.audit, { flushMs: 600_000, batchSize: 500, waitAbove: 1000 });
    trail.record({ action: 'READ_SECRET', actor: admin, tokenId: 'one', fields: ['accessToken'] });
    expect(trail.backpressure()).toBeNull(); // the normal case: nothing to await
    for (let i = 0; i < 5000; i++) trail.record({ action: 'READ_SECRET', actor: admin, tokenId: `b${i}`, fields: ['accessToken'] });
    expect(trail.backlog).toBe(5001);
    const wait = trail.backpressure();
    expect(wait).toBeInstanceOf(Promise);
    await wait;
    expect(trail.backlog).toBeLessThanOrEqual(1000);
    expect(trail.backpressure()).toBeNull();
    await trail.close();
    expect(await readEntries(store.audit)).toHaveLength(5001);
    expect(await lost()).toEqual({ overflow: 0, store: 0 });
  });
});

describe('read audit when the store fails', () => {
  it('drops and counts only beyond maxBacklog entries waiting, counts what the store refused, warns once, and takes entries again once drained', async () => {
    const store = await openSqlite();
    await store.close(); // its database is closed: every write fails
    await expect(store.audit.appendAudit([{ action: 'READ_SECRET', actor: admin, tokenId: 'x' }])).rejects.toThrow();

    const { trail, lost, warnings } = trailOn(store.audit, { flushMs: 600_000, batchSize: 800, maxBacklog: 2000 });
    for (let i = 0; i < 5000; i++) trail.record({ action: 'READ_SECRET', actor: admin, tokenId: `f${i}`, fields: ['accessToken'] });
    expect(trail.backlog).toBe(2000); // two batches of 800 handed to the store, 400 queued
    // An identical read of a queued entry is not a new entry: it is counted on the queued one, not dropped.
    trail.record({ action: 'READ_SECRET', actor: admin, tokenId: 'f1999', fields: ['accessToken'] });
    expect(await lost()).toEqual({ overflow: 3000, store: 0 });

    await trail.flush();
    expect(trail.backlog).toBe(0);
    expect(await lost()).toEqual({ overflow: 3000, store: 2000 });
    // One warning for the whole episode (at most one per warnEveryMs), with what was lost when it was logged.
    const warned = warnings();
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ msg: expect.stringMatching(/dropped/), lost: { overflow: 1, store: 0 } });

    trail.record({ action: 'READ_SECRET', actor: admin, tokenId: 'after', fields: ['accessToken'] });
    expect(trail.backlog).toBe(1);
    await trail.close();
    expect(await lost()).toEqual({ overflow: 3000, store: 2001 });
  });

  it('logs again after warnEveryMs, with the count lost since the last warning', async () => {
    const store = await openSqlite();
    await store.close();
    let now = 1_000_000;
    const { trail, lost, warnings } = trailOn(store.audit, { flushMs: 600_000, batchSize: 100, warnEveryMs: 50, now: () => now });
    for (let i = 0; i < 300; i++) trail.record({ action: 'READ_SECRET', actor: admin, tokenId: `w${i}`, fields: ['accessToken'] });
    await trail.flush();
    expect(warnings()).toHaveLength(1);
    now += 80;
    trail.record({ action: 'READ_SECRET', actor: admin, tokenId: 'w-late', fields: ['accessToken'] });
    await trail.close();
    expect(await lost()).toEqual({ overflow: 0, store: 301 });
    const warned = warnings();
    expect(warned).toHaveLength(2);
    expect(warned.map((w) => w.lost)).toEqual([
      { overflow: 0, store: 100 },
      { overflow: 0, store: 201 },
    ]);
    expect(warned[1]!.msg).toMatch(/could not write/);
  });
});

describe('read audit through the API, an admin paging fast', () => {
  let gw: TestGateway;
  const N = 12_000;
  beforeAll(async () => {
    gw = await startTestGateway({ store: 'memory' });
    for (let i = 0; i < N; i++) await gw.gateway.stores.tokens.saveToken({ userName: `u${i}@example.com`, refreshToken: `rt-${i}`, accessToken: `at-${i}` });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('records a READ_SECRET entry for every token of 12 pages of 1,000 read at once', async () => {
    const cursors: Array<string | null> = [null];
    for (;;) {
      const r = await gw.gql(
        `query($after: String) { tokens(first: 1000, after: $after) { endCursor hasNextPage } }`,
        { after: cursors[cursors.length - 1] },
        gw.keys.admin,
      );
      if (!r.body.data.tokens.hasNextPage) break;
      cursors.push(r.body.data.tokens.endCursor);
    }
    expect(cursors).toHaveLength(N / 1000);
    const pages = await Promise.all(
      cursors.map((after) => gw.gql(`query($after: String) { tokens(first: 1000, after: $after) { nodes { id accessToken } } }`, { after }, gw.keys.admin)),
    );
    const read = pages.flatMap((p) => p.body.data.tokens.nodes as Array<{ id: string; accessToken: string }>);
    expect(read).toHaveLength(N);

    await gw.gateway.audit.flush();
    const entries = await readEntries(gw.gateway.stores.audit);
    expect(entries).toHaveLength(N);
    expect(new Set(entries.map((e) => e.tokenId))).toEqual(new Set(read.map((t) => t.id)));
    expect(entries.every((e) => e.actorRole === 'admin' && e.fields?.join() === 'accessToken')).toBe(true);
    const metrics = await gw.gateway.metrics.registry.getSingleMetric('tokengate_audit_entries_lost_total')!.get();
    expect(metrics.values.reduce((n, v) => n + v.value, 0)).toBe(0);
  });
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { Keyring } from '../../src/crypto/keyring';
import { TokenStoreError } from '../../src/errors';
import { memoryStores } from '../../src/stores/memory/memory-stores';
import type { Stores } from '../../src/stores/stores';
import { openStore } from '../../src/stores/open-store';
import type { Token, TokenInput, TokenMatch } from '../../src/stores/token';
import type { TokenStore } from '../../src/stores/token-store';
import { startThrowawayMariaDb, type ThrowawayMariaDb } from '../support/throwaway-mariadb';

jest.setTimeout(240_000);

/**
 * Model-based tests of the six methods of the TokenStore — findToken,
 * saveToken, deleteToken, getTokens, deleteTokens, findTokenById — over a
 * small alphabet of user names, ids and secrets (so that matches and
 * collisions are frequent), against a model: a plain Map written from
 * shared/spec/token-store.md, not from the stores' code. Every store runs:
 * memory, SQLite (a temp file) and MariaDB (a throwaway server of this file's
 * own, not the shared one at :3306).
 *
 * - Sequences: one operation at a time, in lockstep on the model and every
 *   store; every result must agree — the token returned (every field and its
 *   version), `null`, the boolean or count, and for a failure the
 *   `TokenStoreError` kind and operation.
 * - Concurrent batches: after a random sequence, a few operations at once on
 *   one store; the results and the final state must be those of the model
 *   running the same operations in some order (linearizability).
 *
 * `TOKENGATE_MODEL_RUNS` sets the number of runs (default 200 and 100).
 * `TOKENGATE_MODEL_LENIENT=1` makes the model follow two behaviours of the
 * stores that break the spec (saveToken's lookup ignores the client id; lone
 * surrogates), to check that nothing else differs while those are open.
 */

const LENIENT = process.env.TOKENGATE_MODEL_LENIENT === '1';

// ---------------------------------------------------------------------------
// The model.

/** The fields the operations here set. The others (accountsUrl, lastError, …) stay null. */
const MODEL_FIELDS = ['userName', 'clientId', 'clientSecret', 'refreshToken', 'accessToken', 'grantToken', 'expiresAt', 'redirectUrl', 'apiDomain'] as const;
type ModelField = (typeof MODEL_FIELDS)[number];
const UNIQUE_FIELDS = ['userName', 'accessToken', 'refreshToken', 'grantToken'] as const;
const UNTOUCHED_FIELDS = ['accountsUrl', 'lastRefreshedAt', 'lastError', 'failedAt'] as const;

/** A token as the model keeps it (and as stores' tokens are compared): dates as epoch ms. */
type MToken = { id: string; version: number } & { [K in ModelField]: K extends 'expiresAt' ? number | null : string | null };

type Outcome = { ok: unknown } | { error: string };

class ModelError extends Error {
  constructor(
    readonly operation: string,
    readonly kind: 'INVALID_INPUT' | 'CONFLICT',
  ) {
    super(`${operation}: ${kind}`);
  }
}

const MAX: Record<string, number> = {
  userName: 255,
  clientId: 255,
  clientSecret: 4096,
  refreshToken: 4096,
  accessToken: 4096,
  grantToken: 4096,
  redirectUrl: 1024,
  apiDomain: 255,
};
const present = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
/** A UTF-16 string that is not Unicode: it holds a lone surrogate (a JSON string may: "\ud800"). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Strings are refused when too long, holding a NUL, or (the spec's "a store that behaves differently is a bug") not Unicode. */
function validString(field: string, v: unknown): boolean {
  return v === undefined || v === null || (typeof v === 'string' && v.length <= MAX[field]! && !v.includes('\u0000') && (LENIENT || !LONE_SURROGATE.test(v)));
}
const validId = (id: unknown): boolean => typeof id === 'string' && id.length >= 1 && id.length <= 128 && /^[\x21-\x7e]+$/.test(id);
const validDate = (d: unknown): boolean =>
  d === undefined || d === null || (d instanceof Date && !Number.isNaN(d.getTime()) && d.getTime() >= 0 && d.getTime() <= 253402300799999);

type Rule = { by: 'userName'; value: string } | { by: 'accessToken' | 'grantToken' | 'refreshToken'; value: string; clientId: string | null };

/** The spec's lookup order (token-store.md, "findToken"): the first rule whose input is present wins. */
function ruleOf(m: TokenMatch): Rule | null {
  if (present(m.userName)) return { by: 'userName', value: m.userName };
  const clientId = present(m.clientId) ? m.clientId : null;
  if (present(m.accessToken) && clientId === null && !present(m.clientSecret)) return { by: 'accessToken', value: m.accessToken, clientId: null };
  if (present(m.grantToken)) return { by: 'grantToken', value: m.grantToken, clientId };
  if (present(m.refreshToken)) return { by: 'refreshToken', value: m.refreshToken, clientId };
  return null;
}

/**
 * The spec's store, on a Map. Generated ids are `~gen<n>` here; each store's
 * real generated ids are mapped onto them.
 */
class Model {
  rows = new Map<string, MToken>();
  generated = 0;

  /** @param saveChecksClient whether saveToken's rules 3 and 4 compare the client id, as findToken's do ("the first rule of findToken that applies"). */
  constructor(private readonly saveChecksClient = !LENIENT) {}

  clone(): Model {
    const m = new Model(this.saveChecksClient);
    m.rows = new Map([...this.rows].map(([k, v]) => [k, { ...v }]));
    m.generated = this.generated;
    return m;
  }

  private validMatch(m: TokenMatch, operation: string): void {
    for (const f of ['userName', 'clientId', 'clientSecret', 'accessToken', 'refreshToken', 'grantToken'] as const) {
      if (!validString(f, m[f])) throw new ModelError(operation, 'INVALID_INPUT');
    }
  }

  private byRule(rule: Rule, checkClient: boolean): MToken | null {
    for (const row of this.rows.values()) {
      if (row[rule.by] !== rule.value) continue;
      // Rules 3 and 4 compare the client id where it is given.
      return !checkClient || rule.by === 'userName' || rule.clientId === null || row.clientId === rule.clientId ? row : null;
    }
    return null;
  }

  findToken(m: TokenMatch): MToken | null {
    this.validMatch(m, 'findToken');
    const rule = ruleOf(m);
    if (!rule) throw new ModelError('findToken', 'INVALID_INPUT');
    const t = this.byRule(rule, true);
    return t && { ...t };
  }

  saveToken(input: TokenInput & { id?: string | null }): MToken {
    if (input.id !== undefined && input.id !== null && !validId(input.id)) throw new ModelError('saveToken', 'INVALID_INPUT');
    this.validMatch(input, 'saveToken');
    for (const f of ['redirectUrl', 'apiDomain'] as const) if (!validString(f, input[f])) throw new ModelError('saveToken', 'INVALID_INPUT');
    if (!validDate(input.expiresAt)) throw new ModelError('saveToken', 'INVALID_INPUT');

    // 1. by id (inserted with that id when absent); 2. by the first findToken rule that applies; 3. insert.
    let existing: MToken | null;
    let id: string;
    if (present(input.id)) {
      id = input.id;
      existing = this.rows.get(id) ?? null;
    } else {
      const rule = ruleOf(input);
      existing = rule ? this.byRule(rule, this.saveChecksClient) : null;
      id = existing?.id ?? `~gen${this.generated}`;
    }
    const merged: MToken = existing
      ? { ...existing }
      : {
          id,
          version: 0,
          userName: null,
          clientId: null,
          clientSecret: null,
          refreshToken: null,
          accessToken: null,
          grantToken: null,
          expiresAt: null,
          redirectUrl: null,
          apiDomain: null,
        };
    merged.version += 1;
    // Absent keeps, null clears, an empty string is absent-as-null.
    for (const f of MODEL_FIELDS) {
      const v = input[f];
      if (v === undefined) continue;
      if (f === 'expiresAt') merged.expiresAt = v === null ? null : (v as Date).getTime();
      else (merged as Record<string, unknown>)[f] = v === '' ? null : v;
    }
    if (merged.accessToken === null && merged.refreshToken === null && merged.grantToken === null) throw new ModelError('saveToken', 'INVALID_INPUT');
    // Never a duplicate: another token holding the user name or a lookup secret is a conflict.
    for (const f of UNIQUE_FIELDS) {
      if (merged[f] === null) continue;
      for (const row of this.rows.values()) if (row.id !== id && row[f] === merged[f]) throw new ModelError('saveToken', 'CONFLICT');
    }
    if (!existing && !present(input.id)) this.generated++;
    this.rows.set(id, merged);
    return { ...merged };
  }

  deleteToken(id: string): boolean {
    if (!validId(id)) throw new ModelError('deleteToken', 'INVALID_INPUT');
    return this.rows.delete(id);
  }

  getTokens(): MToken[] {
    return sortById([...this.rows.values()].map((t) => ({ ...t })));
  }

  deleteTokens(): number {
    const n = this.rows.size;
    this.rows.clear();
    return n;
  }

  findTokenById(id: string): MToken | null {
    if (!validId(id)) throw new ModelError('findTokenById', 'INVALID_INPUT');
    const t = this.rows.get(id);
    return t ? { ...t } : null;
  }
}

const sortById = (list: MToken[]) => [...list].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

// ---------------------------------------------------------------------------
// Operations and their generators.

/** An id as an operation names it: a literal, or the n-th id generated so far. */
type IdRef = { literal: string } | { generated: number };

type Op =
  | { op: 'findToken'; match: TokenMatch }
  | { op: 'saveToken'; input: Omit<TokenInput, 'id'>; id?: IdRef | null }
  | { op: 'deleteToken'; id: IdRef }
  | { op: 'getTokens' }
  | { op: 'deleteTokens' }
  | { op: 'findTokenById'; id: IdRef };

/** An operation with its ids resolved to model ids (before any of a concurrent batch runs). */
type Resolved =
  | { op: 'findToken'; match: TokenMatch }
  | { op: 'saveToken'; input: TokenInput & { id?: string | null } }
  | { op: 'deleteToken' | 'findTokenById'; id: string }
  | { op: 'getTokens' | 'deleteTokens' };

const TOO_LONG_NAME = 'n'.repeat(256);
const odd = (values: string[]) => (LENIENT ? values.filter((v) => !LONE_SURROGATE.test(v)) : values);
// One alphabet for the three lookup secrets, so that a value can sit in two fields at once. Rarely:
// a NUL (refused), case and space variants (distinct values), Unicode, a lone surrogate.
const secretArb = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom('s1', 's2', 's3', '') },
  { weight: 1, arbitrary: fc.constantFrom(...odd(['s\u00001', 'S1', 's1 ', 's\u00e9', 's\ud800', 's\ufffd'])) },
);
const userNameArb = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom('alice@x', 'bob@x', 'Alice@x', '') },
  { weight: 1, arbitrary: fc.constantFrom(...odd([TOO_LONG_NAME, 'a\u0000b', 'alice@x ', '\u00e9@x', 'e\u0301@x', '\ud83d\ude42@x', '\ud83d@x', '\ufffd@x'])) },
);
const nullable = <T>(arb: fc.Arbitrary<T>) => fc.oneof({ weight: 1, arbitrary: fc.constant(null) }, { weight: 6, arbitrary: arb });
const clientIdArb = fc.constantFrom('c1', 'c2', '');
const clientSecretArb = fc.constantFrom('k1', 'k2', '');
const dateArb = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(new Date(1_900_000_000_000), new Date(2_000_000_000_123)) },
  { weight: 1, arbitrary: fc.constantFrom(new Date(Number.NaN), new Date(-1)) },
);
const idRefArb: fc.Arbitrary<IdRef> = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom('id-1', 'id-2', 'ID-1', 'id_1', '~', '!').map((literal) => ({ literal })) },
  { weight: 5, arbitrary: fc.nat(5).map((generated) => ({ generated })) },
  { weight: 1, arbitrary: fc.constantFrom('', 'has space', 'x'.repeat(129), '\u00e9').map((literal) => ({ literal })) },
);
const matchArb: fc.Arbitrary<TokenMatch> = fc.record(
  {
    userName: nullable(userNameArb),
    accessToken: nullable(secretArb),
    refreshToken: nullable(secretArb),
    grantToken: nullable(secretArb),
    clientId: nullable(clientIdArb),
    clientSecret: nullable(clientSecretArb),
  },
  { requiredKeys: [], noNullPrototype: true },
);
const inputArb = fc.record(
  {
    userName: nullable(userNameArb),
    clientId: nullable(clientIdArb),
    clientSecret: nullable(clientSecretArb),
    refreshToken: nullable(secretArb),
    accessToken: nullable(secretArb),
    grantToken: nullable(secretArb),
    expiresAt: nullable(dateArb),
    redirectUrl: nullable(fc.constantFrom('https://app.example.com/cb', '')),
    apiDomain: nullable(fc.constantFrom('https://www.zohoapis.eu', '')),
  },
  { requiredKeys: [], noNullPrototype: true },
) as fc.Arbitrary<Omit<TokenInput, 'id'>>;
const saveArb = fc
  .record({ input: inputArb, id: fc.option(fc.option(idRefArb, { nil: null, freq: 8 }), { nil: undefined, freq: 2 }) })
  .map(({ input, id }): Op => ({ op: 'saveToken', input, ...(id === undefined ? {} : { id }) }));

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: matchArb.map((match): Op => ({ op: 'findToken', match })) },
  { weight: 8, arbitrary: saveArb },
  { weight: 2, arbitrary: idRefArb.map((id): Op => ({ op: 'deleteToken', id })) },
  { weight: 1, arbitrary: fc.constant<Op>({ op: 'getTokens' }) },
  { weight: 1, arbitrary: fc.constant<Op>({ op: 'deleteTokens' }) },
  { weight: 3, arbitrary: idRefArb.map((id): Op => ({ op: 'findTokenById', id })) },
);
/** Concurrent batches are mostly writes. */
const batchOpArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: saveArb },
  { weight: 2, arbitrary: matchArb.map((match): Op => ({ op: 'findToken', match })) },
  { weight: 2, arbitrary: idRefArb.map((id): Op => ({ op: 'deleteToken', id })) },
  { weight: 1, arbitrary: fc.constant<Op>({ op: 'getTokens' }) },
  { weight: 1, arbitrary: fc.constant<Op>({ op: 'deleteTokens' }) },
  { weight: 1, arbitrary: idRefArb.map((id): Op => ({ op: 'findTokenById', id })) },
);

// ---------------------------------------------------------------------------
// Running operations on the model and on a store, and comparing.

/** A store's generated ids ↔ the model's. */
interface IdMap {
  toModel: Map<string, string>;
  toReal: Map<string, string>;
}
const cloneIdMap = (m: IdMap): IdMap => ({ toModel: new Map(m.toModel), toReal: new Map(m.toReal) });

/** One store under test. */
interface Subject {
  name: string;
  store: TokenStore;
  close(): Promise<void>;
  ids: IdMap;
  /** createdAt of each model id (sequences only), to check that updates keep it. */
  createdAt: Map<string, number>;
}

const show = (v: unknown) => JSON.stringify(v, (_k, x) => (x instanceof Date ? `Date(${x.getTime()})` : x));

function resolve(model: Model, o: Op): Resolved {
  const id = (ref: IdRef) => ('literal' in ref ? ref.literal : model.generated === 0 ? 'id-1' : `~gen${ref.generated % model.generated}`);
  switch (o.op) {
    case 'saveToken':
      // An id given as null counts as absent (JavaScript callers send null).
      return { op: 'saveToken', input: { ...o.input, ...(o.id === undefined ? {} : { id: o.id === null ? null : id(o.id) }) } as TokenInput };
    case 'deleteToken':
    case 'findTokenById':
      return { op: o.op, id: id(o.id) };
    default:
      return o;
  }
}

function catching(fn: () => unknown): Outcome {
  try {
    return { ok: fn() };
  } catch (err) {
    if (err instanceof ModelError) return { error: `${err.operation}:${err.kind}` };
    throw err;
  }
}

function runModel(model: Model, r: Resolved): Outcome {
  switch (r.op) {
    case 'findToken':
      return catching(() => model.findToken(r.match));
    case 'saveToken':
      return catching(() => model.saveToken(r.input));
    case 'deleteToken':
      return catching(() => model.deleteToken(r.id));
    case 'getTokens':
      return catching(() => model.getTokens());
    case 'deleteTokens':
      return catching(() => model.deleteTokens());
    case 'findTokenById':
      return catching(() => model.findTokenById(r.id));
  }
}

/** What a store answered, before ids are mapped. */
type Raw = { ok: Token | Token[] | boolean | number | null } | { error: string };

async function runStore(store: TokenStore, r: Resolved, ids: IdMap): Promise<Raw> {
  const real = (id: string) => ids.toReal.get(id) ?? id;
  try {
    switch (r.op) {
      case 'findToken':
        return { ok: await store.findToken({ ...r.match }) };
      case 'saveToken': {
        const input = { ...r.input } as TokenInput;
        if (typeof input.id === 'string') input.id = real(input.id);
        return { ok: await store.saveToken(input) };
      }
      case 'deleteToken':
        return { ok: await store.deleteToken(real(r.id)) };
      case 'getTokens':
        return { ok: await store.getTokens() };
      case 'deleteTokens':
        return { ok: await store.deleteTokens() };
      case 'findTokenById':
        return { ok: await store.findTokenById(real(r.id)) };
    }
  } catch (err) {
    if (err instanceof TokenStoreError) return { error: `${err.operation}:${err.kind}` };
    return { error: `not a TokenStoreError: ${(err as Error)?.name}: ${(err as Error)?.message}` };
  }
}

/**
 * A store's token in the model's terms. A generated id the store returns for
 * the first time is mapped onto the model id the model's answer holds.
 */
function toModelToken(t: Token, ids: IdMap, expectedId: string | null, problems: string[], where: string, name: string): MToken {
  if (!ids.toModel.has(t.id) && expectedId?.startsWith('~gen') && !ids.toReal.has(expectedId)) {
    if (!/^[A-Za-z0-9_-]{8,}$/.test(t.id)) problems.push(`${where}: ${name} generated the id ${JSON.stringify(t.id)}, not random and URL-safe`);
    ids.toModel.set(t.id, expectedId);
    ids.toReal.set(expectedId, t.id);
  }
  for (const f of UNTOUCHED_FIELDS) if (t[f] !== null) problems.push(`${where}: ${name} set ${f}`);
  if (!(t.createdAt instanceof Date) || !(t.updatedAt instanceof Date) || t.updatedAt.getTime() < t.createdAt.getTime()) {
    problems.push(`${where}: ${name} has timestamps ${String(t.createdAt)} / ${String(t.updatedAt)}`);
  }
  const out = { id: ids.toModel.get(t.id) ?? t.id, version: t.version } as MToken;
  for (const f of MODEL_FIELDS) (out as Record<string, unknown>)[f] = f === 'expiresAt' ? (t.expiresAt?.getTime() ?? null) : t[f];
  return out;
}

/** A store's answer in the model's terms, given the model's answer (for the ids it generated). */
function toModelOutcome(raw: Raw, expected: Outcome, ids: IdMap, problems: string[], where: string, name: string): Outcome {
  if ('error' in raw) return raw;
  const v = raw.ok;
  const expectedId = 'ok' in expected && expected.ok && typeof expected.ok === 'object' && !Array.isArray(expected.ok) ? (expected.ok as MToken).id : null;
  if (Array.isArray(v)) {
    const ids_ = v.map((t) => t.id);
    const sorted = [...ids_].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    if (show(ids_) !== show(sorted)) problems.push(`${where}: ${name} getTokens is not in id order`);
    return { ok: sortById(v.map((t) => toModelToken(t, ids, null, problems, where, name))) };
  }
  if (v && typeof v === 'object') return { ok: toModelToken(v, ids, expectedId, problems, where, name) };
  return { ok: v };
}

async function resetAll(subjects: Subject[]): Promise<void> {
  for (const s of subjects) {
    await s.store.deleteTokens();
    s.ids.toModel.clear();
    s.ids.toReal.clear();
    s.createdAt.clear();
  }
}

/**
 * Runs `ops` one at a time on `model` and on every subject; returns the
 * disagreements (none when all agree), stopping at the first operation that has any.
 */
async function runSequence(model: Model, ops: Op[], subjects: Subject[], problems: string[]): Promise<void> {
  for (const [i, o] of ops.entries()) {
    const where = `op ${i} ${show(o)}`;
    const r = resolve(model, o);
    const expected = runModel(model, r);
    for (const s of subjects) {
      const raw = await runStore(s.store, r, s.ids);
      const actual = toModelOutcome(raw, expected, s.ids, problems, where, s.name);
      if ('ok' in actual && actual.ok && typeof actual.ok === 'object' && !Array.isArray(actual.ok) && 'ok' in raw) {
        // An update keeps createdAt.
        const t = raw.ok as Token;
        const id = (actual.ok as MToken).id;
        const created = s.createdAt.get(id);
        if (created !== undefined && created !== t.createdAt.getTime()) problems.push(`${where}: ${s.name} changed createdAt`);
        if (r.op === 'saveToken') s.createdAt.set(id, t.createdAt.getTime());
      }
      if (r.op === 'deleteToken' && 'ok' in actual && actual.ok === true) s.createdAt.delete(r.id);
      if (r.op === 'deleteTokens') s.createdAt.clear();
      if (show(actual) !== show(expected)) problems.push(`${where}: ${s.name} answered ${show(actual)}; the model: ${show(expected)}`);
    }
    if (problems.length > 0) return;
  }
}

async function checkFinalState(model: Model, subjects: Subject[], problems: string[]): Promise<void> {
  const want = show(model.getTokens());
  for (const s of subjects) {
    const got = show(sortById((await s.store.getTokens()).map((t) => toModelToken(t, s.ids, null, problems, 'final', s.name))));
    if (got !== want) problems.push(`final state of ${s.name}: ${got}; the model: ${want}`);
  }
}

function permutations<T>(list: T[]): T[][] {
  if (list.length <= 1) return [list];
  return list.flatMap((x, i) => permutations([...list.slice(0, i), ...list.slice(i + 1)]).map((rest) => [x, ...rest]));
}

/**
 * Runs `batch` at once on one subject, from the state `model` describes, and
 * returns what cannot be explained by the model running the batch in some order.
 */
async function runConcurrently(model: Model, batch: Op[], s: Subject): Promise<string[]> {
  const resolved = batch.map((o) => resolve(model, o));
  const raws = await Promise.all(resolved.map((r) => runStore(s.store, r, s.ids)));
  const finalRaw = await s.store.getTokens();
  let firstTry: string[] = [];
  for (const order of permutations(resolved.map((_, i) => i))) {
    const m = model.clone();
    const expected: Outcome[] = [];
    for (const i of order) expected[i] = runModel(m, resolved[i]!);
    // The model generates ids in this order: map the store's new ids onto them.
    const ids = cloneIdMap(s.ids);
    const problems: string[] = [];
    // Saves first: they map the store's new ids (which a concurrent read may already show).
    const actual: Outcome[] = [];
    const saves = resolved.map((r, i) => (r.op === 'saveToken' ? i : -1)).filter((i) => i >= 0);
    for (const i of [...saves, ...resolved.keys()]) actual[i] ??= toModelOutcome(raws[i]!, expected[i]!, ids, problems, `batch op ${i}`, s.name);
    resolved.forEach((r, i) => {
      if (show(actual[i]) !== show(expected[i]))
        problems.push(`${show(r)} answered ${show(actual[i])}; the model (order ${order.join(',')}): ${show(expected[i])}`);
    });
    const final = show(sortById(finalRaw.map((t) => toModelToken(t, ids, null, problems, 'final', s.name))));
    if (final !== show(m.getTokens())) problems.push(`final state ${final}; the model (order ${order.join(',')}): ${show(m.getTokens())}`);
    if (problems.length === 0) {
      s.ids.toModel = ids.toModel;
      s.ids.toReal = ids.toReal;
      model.rows = m.rows;
      model.generated = m.generated;
      return [];
    }
    if (firstTry.length === 0) firstTry = problems;
  }
  return [`${s.name}: no order of the batch explains the results. In the given order: ${firstTry.slice(0, 4).join(' | ')}`];
}

// ---------------------------------------------------------------------------

describe('TokenStore against a model of the spec (memory, SQLite, MariaDB)', () => {
  let db: ThrowawayMariaDb;
  let dir: string;
  const subjects: Subject[] = [];
  const subject = (name: string, stores: Stores): Subject => ({
    name,
    store: stores.tokens,
    close: () => stores.close(),
    ids: { toModel: new Map(), toReal: new Map() },
    createdAt: new Map(),
  });

  beforeAll(async () => {
    // Durability does not matter here; speed does.
    db = await startThrowawayMariaDb({ extraArgs: ['--innodb-flush-log-at-trx-commit=0'] });
    const url = await db.createDatabase('tg_model');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tokengate-model-'));
    const keyring = () => new Keyring([randomBytes(32)]);
    subjects.push(subject('memory', memoryStores()));
    subjects.push(subject('sqlite', await openStore({ kind: 'sqlite', path: path.join(dir, 'model.db') }, keyring())));
    subjects.push(subject('mysql', await openStore({ kind: 'mysql', url, table: 'model_tokens', poolSize: 8 }, keyring())));
  });
  afterAll(async () => {
    for (const s of subjects) await s.close().catch(() => undefined);
    await db?.destroy();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  // Two disagreements with the spec that the model found, as plain examples (they fail until src/ is fixed).

  it('saveToken finds its row as findToken does: a refresh or grant token stored for another client is not updated (spec: "the first rule of findToken that applies")', async () => {
    const problems: string[] = [];
    for (const s of subjects) {
      await resetAll([s]);
      const c1 = await s.store.saveToken({ clientId: 'c1', clientSecret: 'secret-1', refreshToken: 'rt-shared', accessToken: 'at-1' });
      // findToken says the other client has no such token ...
      const found = await s.store.findToken({ refreshToken: 'rt-shared', clientId: 'c2' });
      if (found !== null) problems.push(`${s.name}: findToken matched another client's token`);
      // ... so saveToken must not update it (it is a duplicate refresh token: CONFLICT), and c1's token must stay c1's.
      const outcome = await s.store.saveToken({ clientId: 'c2', clientSecret: 'secret-2', refreshToken: 'rt-shared', accessToken: 'at-2' }).then(
        (t) => `updated ${t.id === c1.id ? "c1's token" : 'a new token'} to client ${t.clientId}`,
        (err: unknown) => (err instanceof TokenStoreError ? err.kind : String(err)),
      );
      if (outcome !== 'CONFLICT') problems.push(`${s.name}: a save for client c2 with c1's refresh token ${outcome}, expected CONFLICT`);
      const after = await s.store.findTokenById(c1.id);
      if (after?.clientId !== 'c1' || after.clientSecret !== 'secret-1') problems.push(`${s.name}: c1's token now belongs to ${after?.clientId}`);
    }
    expect(problems).toEqual([]);
  });

  it('a string with a lone surrogate (JSON "\\ud800") is refused, not stored as U+FFFD by the SQL stores and as is by memory', async () => {
    const problems: string[] = [];
    for (const s of subjects) {
      await resetAll([s]);
      const saved = await s.store.saveToken({ userName: 'u\ud800', accessToken: 'at-\udc00' }).then(
        (t) => t,
        (err: unknown) => err,
      );
      if (saved instanceof TokenStoreError && saved.kind === 'INVALID_INPUT') continue;
      if (!(saved instanceof Error)) {
        const back = await s.store.findTokenById((saved as Token).id);
        problems.push(
          `${s.name}: stored; saveToken answered ${show([(saved as Token).userName, (saved as Token).accessToken])}, reading it back gives ${show([back?.userName, back?.accessToken])}`,
        );
        // Two different values collide where the store replaced the surrogate.
        const twin = await s.store.saveToken({ userName: 'u\ufffd', accessToken: 'at-\ufffd' }).then(
          (t) => (t.id === (saved as Token).id ? 'an update of that token (another user name found it)' : 'a separate token'),
          (err: unknown) => (err instanceof TokenStoreError ? err.kind : String(err)),
        );
        problems.push(`${s.name}: then saving "u\\ufffd" gives ${twin}`);
      } else problems.push(`${s.name}: ${String(saved)}`);
    }
    expect(problems).toEqual([]);
  });

  it('random sequences of the six operations: every store answers as the model, results and failures alike', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 30 }), async (ops) => {
        await resetAll(subjects);
        const model = new Model();
        const problems: string[] = [];
        await runSequence(model, ops, subjects, problems);
        if (problems.length === 0) await checkFinalState(model, subjects, problems);
        if (problems.length > 0) throw new Error(problems.slice(0, 6).join('\n'));
      }),
      { numRuns: Number(process.env.TOKENGATE_MODEL_RUNS ?? 200), interruptAfterTimeLimit: 60_000, markInterruptAsFailure: false },
    );
  });

  it('concurrent batches: every store ends as the model running the batch in some order', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 12 }), fc.array(batchOpArb, { minLength: 2, maxLength: 4 }), async (prefix, batch) => {
        for (const s of subjects) {
          await resetAll([s]);
          const model = new Model();
          const problems: string[] = [];
          await runSequence(model, prefix, [s], problems);
          if (problems.length > 0) throw new Error(problems.slice(0, 6).join('\n'));
          const unexplained = await runConcurrently(model, batch, s);
          if (unexplained.length > 0) throw new Error(unexplained.join('\n'));
        }
      }),
      { numRuns: Number(process.env.TOKENGATE_MODEL_RUNS ?? 100), interruptAfterTimeLimit: 60_000, markInterruptAsFailure: false },
    );
  });
});

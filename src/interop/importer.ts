/**
 * Imports tokens from a Zoho source (a `FileStore` CSV or a `DBStore` table)
 * into a tokengate `TokenStore`.
 *
 * 1. **Read and check every row first.** A row is invalid when a value is
 *    malformed, when it repeats the id, user name or a secret of an earlier
 *    row, or when its user name or a secret already belongs to another stored
 *    token. Any invalid row means nothing is written (unless `skipInvalid`).
 * 2. **Compare** each row with the stored token of the same id (Zoho's id is
 *    kept), or, for a row without an id, the token Zoho's lookup rules find:
 *    `imported` (new), `updated` (some column differs) or `unchanged`. So
 *    importing the same input twice changes nothing the second time.
 * 3. **Write** through `TokenStore.saveToken` (which encrypts the secrets), a
 *    few rows at a time. The store interface has no transaction spanning many
 *    tokens, so the import is made atomic by hand: the stored state of every
 *    token is kept before it is written, and when a write fails the tokens
 *    already written are put back (updated ones restored, inserted ones
 *    deleted) before the error is reported.
 *
 * Nothing here puts a value of a row into a message: problems name the row
 * (`line 4`, `row 3 (id 17)`) and the column.
 */
import { systemActor } from '../audit/audit';
import { TokenStoreError } from '../errors';
import type { AccountsUrlPolicy } from '../oauth/accounts-url-policy';
import type { Token, TokenInput } from '../stores/token';
import type { TokenStore } from '../stores/token-store';
import { lookupRule } from '../stores/token-rules';
import { rowToInput, type SourceRow } from './zoho-format';

/** A row that cannot be imported, and why (never with its values). */
export interface InvalidRow {
  /** `line 4` or `row 3 (id 17)`. */
  where: string;
  problems: string[];
}

/** What an import did (or, for a dry run, would do). */
export interface ImportResult {
  /** New tokens. */
  imported: number;
  /** Stored tokens with at least one changed column. */
  updated: number;
  /** Stored tokens that already matched their row. */
  unchanged: number;
  /** Invalid rows left out (only with `skipInvalid`). */
  skipped: number;
  invalid: InvalidRow[];
  /** False for a dry run. */
  written: boolean;
}

/** Where an import is, for a progress display. */
export interface ImportProgress {
  phase: 'reading' | 'checking' | 'writing' | 'rolling back';
  done: number;
  /** Unknown while reading. */
  total: number | null;
}

export interface ImportOptions {
  /** Import the valid rows and leave the invalid ones out, instead of importing nothing. */
  skipInvalid?: boolean;
  /** Check and compare only; write nothing. */
  dryRun?: boolean;
  /** Store operations in flight at once [8]. */
  concurrency?: number;
  /**
   * Fixes the `accountsUrl` of new tokens as the API does (the data center of
   * `api_domain`, else the default) and refuses rows whose data center is not
   * on the allow-list. Without it the refresh engine resolves it at refresh time.
   */
  policy?: AccountsUrlPolicy;
  onProgress?: (progress: ImportProgress) => void;
}

/** Invalid rows were found: nothing was written. */
export class ImportRejectedError extends Error {
  override readonly name = 'ImportRejectedError';
  constructor(
    readonly invalid: InvalidRow[],
    readonly valid: number,
  ) {
    super(`${invalid.length} invalid row${invalid.length === 1 ? '' : 's'}: nothing was imported`);
  }
}

/** A write failed part-way; the tokens written before it were put back (see `restored`). */
export class ImportFailedError extends Error {
  override readonly name = 'ImportFailedError';
  constructor(
    message: string,
    /** Whether every token written before the failure was put back as it was. */
    readonly restored: boolean,
    /** Ids of tokens that could not be put back (none when `restored`). */
    readonly unrestored: string[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The columns compared and written, as tokengate fields. */
const FIELDS = ['userName', 'clientId', 'clientSecret', 'refreshToken', 'accessToken', 'grantToken', 'expiresAt', 'redirectUrl', 'apiDomain'] as const;
type ImportedField = (typeof FIELDS)[number];
const CREDENTIALS: readonly ImportedField[] = ['accessToken', 'refreshToken', 'grantToken'];
/** The values that are unique across tokens, with the words messages use for them. */
const UNIQUE: ReadonlyArray<[Exclude<ImportedField, 'clientId' | 'clientSecret' | 'expiresAt' | 'redirectUrl' | 'apiDomain'>, string]> = [
  ['userName', 'user_name'],
  ['accessToken', 'access_token'],
  ['refreshToken', 'refresh_token'],
  ['grantToken', 'grant_token'],
];

interface Candidate {
  where: string;
  input: TokenInput;
  problems: string[];
}

/** What one row does; `targetId` is the stored token it is for (null: a new token with a generated id). */
type Plan =
  | { kind: 'insert'; targetId: string | null; write: TokenInput }
  | { kind: 'update'; targetId: string; write: TokenInput; previous: Token }
  | { kind: 'unchanged'; targetId: string };

const same = (a: unknown, b: unknown): boolean => (a instanceof Date && b instanceof Date ? a.getTime() === b.getTime() : a === b);

/** Runs `fn` over `items`, at most `limit` at once; stops starting new ones after a failure and rethrows it. */
async function forEachBounded<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | null = null;
  const worker = async () => {
    while (failure === null && next < items.length) {
      const i = next++;
      try {
        await fn(items[i]!, i);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure) throw (failure as { err: unknown }).err;
}

/** Calls `report` at most every 100 ms, and always for the last item. */
function throttled(report: ((p: ImportProgress) => void) | undefined): (p: ImportProgress) => void {
  let last = 0;
  return (p) => {
    if (!report) return;
    const now = Date.now();
    if (now - last >= 100 || (p.total !== null && p.done === p.total)) {
      last = now;
      report(p);
    }
  };
}

/**
 * Imports the rows of a Zoho source into `store`.
 * @throws ImportRejectedError when a row is invalid and `skipInvalid` is not set (nothing written).
 * @throws ImportFailedError when a write failed (what was written is put back).
 * @throws ZohoFormatError (from the reader) when the source cannot be read at all.
 */
export async function importTokens(
  store: TokenStore,
  rows: AsyncIterable<SourceRow> | Iterable<SourceRow>,
  options: ImportOptions = {},
): Promise<ImportResult> {
  const concurrency = options.concurrency ?? 8;
  const progress = throttled(options.onProgress);

  // 1. Read and convert every row.
  const candidates: Candidate[] = [];
  for await (const row of rows) {
    const converted = rowToInput(row.values);
    const problems = [...(row.problem ? [row.problem] : []), ...(converted.ok ? [] : converted.problems)];
    candidates.push({ where: row.where, input: converted.ok ? converted.input : {}, problems });
    progress({ phase: 'reading', done: candidates.length, total: null });
  }

  // 2. Within the input: one row per id, user name and secret.
  const firstSeen = new Map<string, string>();
  for (const c of candidates) {
    if (c.problems.length > 0) continue;
    const keys: Array<[string, string]> = [];
    if (c.input.id) keys.push([`id\u0000${c.input.id}`, 'the same id']);
    for (const [field, column] of UNIQUE) {
      const v = c.input[field];
      if (typeof v === 'string' && v !== '') keys.push([`${field}\u0000${v}`, `the same ${column}`]);
    }
    for (const [key, what] of keys) {
      const earlier = firstSeen.get(key);
      if (earlier !== undefined) c.problems.push(`has ${what} as ${earlier}`);
    }
    if (c.problems.length === 0) for (const [key] of keys) firstSeen.set(key, c.where);
  }

  // 3. Against the store: find each row's token, refuse values another token holds, compare.
  const valid = candidates.filter((c) => c.problems.length === 0);
  const plans: Array<Plan | null> = new Array(valid.length).fill(null);
  let checked = 0;
  // Into an empty store (the usual first import) there is nothing to look up: every row is new.
  const empty = (await store.countTokens()) === 0;
  await forEachBounded(valid, concurrency, async (c, i) => {
    plans[i] = await planRow(empty ? null : store, c, options.policy);
    progress({ phase: 'checking', done: ++checked, total: valid.length });
  });
  // Two rows must not end on one stored token (say, one by id and one by user name), in input order.
  const targets = new Map<string, string>();
  valid.forEach((c, i) => {
    const targetId = plans[i]?.targetId;
    if (!targetId) return;
    const earlier = targets.get(targetId);
    if (earlier === undefined) targets.set(targetId, c.where);
    else {
      c.problems.push(`is for the same stored token as ${earlier}`);
      plans[i] = null;
    }
  });

  const invalid: InvalidRow[] = candidates.filter((c) => c.problems.length > 0).map((c) => ({ where: c.where, problems: c.problems }));
  if (invalid.length > 0 && !options.skipInvalid) throw new ImportRejectedError(invalid, candidates.length - invalid.length);

  const ready = plans.filter((p): p is Plan => p !== null);
  const result: ImportResult = {
    imported: ready.filter((p) => p.kind === 'insert').length,
    updated: ready.filter((p) => p.kind === 'update').length,
    unchanged: ready.filter((p) => p.kind === 'unchanged').length,
    skipped: invalid.length,
    invalid,
    written: !options.dryRun,
  };
  if (options.dryRun) return result;

  // 4. Write, keeping what is needed to put every written token back.
  const writes = ready.filter((p): p is Exclude<Plan, { kind: 'unchanged' }> => p.kind !== 'unchanged');
  const undo: Array<{ id: string; previous: Token | null; fields: ImportedField[] }> = [];
  let written = 0;
  try {
    await forEachBounded(writes, concurrency, async (plan) => {
      // Recorded in the audit trail as an IMPORT (in the write's transaction).
      const saved = await store.saveToken(plan.write, { complete: accountsUrlFiller(options.policy), audit: { action: 'IMPORT', actor: IMPORT_ACTOR } });
      undo.push({ id: saved.id, previous: plan.kind === 'update' ? plan.previous : null, fields: FIELDS.filter((f) => plan.write[f] !== undefined) });
      progress({ phase: 'writing', done: ++written, total: writes.length });
    });
  } catch (err) {
    const unrestored = await rollBack(store, undo, progress);
    const reason = err instanceof TokenStoreError ? err.detail : 'the store failed';
    throw new ImportFailedError(
      unrestored.length === 0
        ? `writing failed after ${undo.length} of ${writes.length} tokens (${reason}); those were put back as they were: nothing was imported`
        : `writing failed after ${undo.length} of ${writes.length} tokens (${reason}), and ${unrestored.length} could not be put back: ${unrestored.slice(0, 20).join(', ')}${unrestored.length > 20 ? ', …' : ''}`,
      unrestored.length === 0,
      unrestored,
      { cause: err },
    );
  }
  return result;
}

/** Fills `accountsUrl` on a token that has none, as the API's `saveToken` does. */
function accountsUrlFiller(policy: AccountsUrlPolicy | undefined): ((token: Token) => void) | undefined {
  if (!policy) return undefined;
  return (token) => {
    if (token.accountsUrl !== null) return;
    try {
      token.accountsUrl = policy.resolve({ apiDomain: token.apiDomain });
    } catch (err) {
      throw new TokenStoreError('saveToken', 'INVALID_INPUT', (err as Error).message);
    }
  };
}

/**
 * Decides what a valid row does; adds problems to the candidate (and returns
 * null) when it cannot be imported. `store` is null when it is empty.
 */
async function planRow(store: TokenStore | null, c: Candidate, policy: AccountsUrlPolicy | undefined): Promise<Plan | null> {
  const input = c.input;
  const target = !store ? null : input.id ? await store.findTokenById(input.id) : lookupRule(input) ? await store.findToken(input) : null;

  // A Zoho id names one user's token: an id stored for another user is a clash of two sources, not an update.
  if (input.id && target && target.userName !== null && typeof input.userName === 'string' && input.userName !== '' && input.userName !== target.userName) {
    c.problems.push(`its id is stored for another user_name (id ${target.id})`);
  }
  // Values unique across tokens must not belong to another stored token.
  for (const [field, column] of UNIQUE) {
    const v = input[field];
    if (!store || typeof v !== 'string' || v === '' || (target && target[field] === v)) continue;
    const holder = await store.findToken({ [field]: v });
    if (holder && holder.id !== target?.id) c.problems.push(`its ${column} belongs to another stored token (id ${holder.id})`);
  }
  if (policy && (!target || target.accountsUrl === null)) {
    const apiDomain = input.apiDomain !== undefined ? input.apiDomain : (target?.apiDomain ?? null);
    try {
      policy.resolve({ apiDomain });
    } catch {
      c.problems.push('its api_domain names a data center whose accounts server is not on TOKENGATE_ALLOWED_ACCOUNTS_URLS');
    }
  }
  if (c.problems.length > 0) return null;

  if (!target) {
    const write: TokenInput = {};
    if (input.id) write.id = input.id;
    for (const f of FIELDS) if (input[f] !== undefined) (write as Record<string, unknown>)[f] = input[f] === '' ? null : input[f];
    return { kind: 'insert', targetId: input.id ?? null, write };
  }

  // The gateway may have refreshed the token since the source was written:
  // an older access token (same refresh token, earlier expiry) does not replace a newer one.
  const older =
    input.accessToken !== undefined &&
    input.expiresAt !== undefined &&
    target.accessToken !== null &&
    target.expiresAt !== null &&
    (input.refreshToken === undefined || input.refreshToken === target.refreshToken) &&
    (input.expiresAt === null || input.expiresAt.getTime() < target.expiresAt.getTime());

  const write: TokenInput = { id: target.id };
  let changed = false;
  let credentialsChanged = false;
  for (const f of FIELDS) {
    const v = input[f] === '' ? null : input[f];
    if (v === undefined || same(v, target[f])) continue;
    if (older && (f === 'accessToken' || f === 'expiresAt')) continue;
    (write as Record<string, unknown>)[f] = v;
    changed = true;
    if (CREDENTIALS.includes(f) && v !== null) credentialsChanged = true;
  }
  if (!changed) return { kind: 'unchanged', targetId: target.id };
  // New credentials re-authorize a FAILED token, as a save through the API does.
  if (credentialsChanged && (target.failedAt !== null || target.lastError !== null)) {
    write.failedAt = null;
    write.lastError = null;
  }
  return { kind: 'update', targetId: target.id, write, previous: target };
}

/** Who an import is in the audit trail. */
const IMPORT_ACTOR = systemActor('cli-import');

/** Puts written tokens back as they were. @returns the ids that could not be. */
async function rollBack(
  store: TokenStore,
  undo: Array<{ id: string; previous: Token | null; fields: ImportedField[] }>,
  progress: (p: ImportProgress) => void,
): Promise<string[]> {
  const unrestored: string[] = [];
  let done = 0;
  for (const u of [...undo].reverse()) {
    try {
      if (u.previous === null) {
        await store.deleteToken(u.id, { audit: { action: 'IMPORT', actor: IMPORT_ACTOR, detail: 'rolled back: deleted' } });
      } else {
        const restore: TokenInput = { id: u.id, failedAt: u.previous.failedAt, lastError: u.previous.lastError };
        for (const f of u.fields) (restore as Record<string, unknown>)[f] = u.previous[f];
        await store.saveToken(restore, { audit: { action: 'IMPORT', actor: IMPORT_ACTOR, detail: 'rolled back: restored' } });
      }
    } catch {
      unrestored.push(u.id);
    }
    progress({ phase: 'rolling back', done: ++done, total: undo.length });
  }
  return unrestored;
}

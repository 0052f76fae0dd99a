import { STORE_ACTOR, normalizeEvent, type AuditEntry } from '../audit/audit';
import { TokenStoreError } from '../errors';
import { retryLostRaces } from './lost-races';
import type { LookupSecretField, Token, TokenInput } from './token';
import { clientMatches, generateId, givenFields, mergeToken, saveRule, validateInput, type LookupRule } from './token-rules';
import type { SaveOptions } from './token-store';

/** Signals inside a transaction that a concurrent writer got there first: the save is tried again. */
export class LostRace extends Error {}

/** The fields no two tokens may share. */
export type UniqueField = 'userName' | LookupSecretField;

const LABEL: Record<UniqueField, string> = {
  userName: 'user name',
  accessToken: 'access token',
  refreshToken: 'refresh token',
  grantToken: 'grant token',
};

/** What `saveToken`'s upsert needs from a backend, inside one of its transactions (`Tx`). */
export interface UpsertBackend<Tx> {
  /** Runs `fn` in one transaction: all of its writes or none. */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** The token with this id, locked until the transaction ends. */
  findById(tx: Tx, id: string): Promise<Token | null>;
  /** The token a lookup rule selects (whatever its client id), locked until the transaction ends. */
  findByRule(tx: Tx, rule: LookupRule): Promise<Token | null>;
  /** The fields of `token` whose value another token holds, in the order of `UniqueField`. */
  findClashes(tx: Tx, token: Token): Promise<UniqueField[]>;
  /** Stores a new token. */
  insert(tx: Tx, token: Token): Promise<void>;
  /** Replaces a token if its stored version is still `version`. @returns whether it did. */
  update(tx: Tx, token: Token, version: number): Promise<boolean>;
  /** Records the write's audit entries in the transaction. */
  recordAudit(tx: Tx, entries: ReadonlyArray<Omit<AuditEntry, 'id'>>): Promise<void>;
  /**
   * Whether duplicates are looked for before the write; otherwise the write
   * itself finds them (unique indexes) and the look only names the clash.
   */
  readonly checkDuplicatesFirst: boolean;
  /** Whether a failure is a unique-index violation (`unique`) or a transient conflict worth a retry (`retry`). */
  classify(err: unknown): 'unique' | 'retry' | 'other';
}

/**
 * `saveToken` over any backend: find the target by id or lookup rule, check
 * the client and the expected version, merge, refuse duplicates, write with
 * compare-and-swap on the version, record the audit entry — all in one
 * transaction, tried again when a concurrent writer won.
 */
export async function upsertToken<Tx>(backend: UpsertBackend<Tx>, input: TokenInput, options: SaveOptions): Promise<Token> {
  validateInput(input);
  return retryLostRaces(
    () => backend.transaction((tx) => upsertOnce(backend, tx, input, options)),
    (err) => err instanceof LostRace || ['unique', 'retry'].includes(backend.classify(err)),
  );
}

async function upsertOnce<Tx>(backend: UpsertBackend<Tx>, tx: Tx, input: TokenInput, options: SaveOptions): Promise<Token> {
  let existing: Token | null;
  let id: string;
  let rule: LookupRule | null = null;
  if (input.id) {
    id = input.id;
    existing = await backend.findById(tx, id);
  } else {
    rule = saveRule(input);
    existing = rule ? await backend.findByRule(tx, rule) : null;
    if (rule && existing && !clientMatches(rule, existing)) {
      throw new TokenStoreError('saveToken', 'CONFLICT', `the ${LABEL[rule.by]} is already stored with another client's token`);
    }
    id = existing?.id ?? generateId();
  }
  if (options.ifVersion !== undefined && existing?.version !== options.ifVersion) {
    throw new TokenStoreError('saveToken', 'CONFLICT', 'the token changed since it was read');
  }
  const token = mergeToken(existing, input, id, new Date());
  options.complete?.(token, existing);
  if (backend.checkDuplicatesFirst) await assertNoDuplicate(backend, tx, token, rule);
  try {
    if (!existing) await backend.insert(tx, token);
    else if (!(await backend.update(tx, token, existing.version))) throw new LostRace();
  } catch (err) {
    if (!backend.checkDuplicatesFirst && backend.classify(err) === 'unique') await assertNoDuplicate(backend, tx, token, rule);
    throw err;
  }
  const audit = options.audit ?? { action: 'SAVE', actor: STORE_ACTOR };
  await backend.recordAudit(tx, [normalizeEvent(audit, { tokenId: id, fields: givenFields(input), detail: existing ? 'updated' : 'created' })]);
  return token;
}

/**
 * Refuses a write whose user name or secrets another token holds. A clash on
 * the very key the upsert looked up and did not find is a concurrent insert
 * committed meanwhile: a lost race, tried again (and then an update).
 */
async function assertNoDuplicate<Tx>(backend: UpsertBackend<Tx>, tx: Tx, token: Token, rule: LookupRule | null): Promise<void> {
  const clashes = await backend.findClashes(tx, token);
  if (clashes.length === 0) return;
  if (rule && clashes.includes(rule.by)) throw new LostRace();
  throw new TokenStoreError('saveToken', 'CONFLICT', `the ${LABEL[clashes[0]!]} is already stored with another token`);
}

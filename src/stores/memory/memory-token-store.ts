import { STORE_ACTOR, normalizeEvent, type AuditedWrite } from '../../audit/audit';
import type { Token, TokenInput, TokenMatch, TokenPage } from '../token';
import { clientMatches, decodeCursor, encodeCursor, requireLookupRule, validateId, validatePageSize, type LookupRule } from '../token-rules';
import type { SaveOptions, TokenStore } from '../token-store';
import { LostRace, upsertToken, type UpsertBackend } from '../upsert';
import { MemoryDatabase, UNIQUE_FIELDS, copy, guarded } from './memory-database';

/**
 * The token store in process memory: for tests, demos and single-process
 * gateways that may lose their tokens on restart. Same rules as the SQL
 * stores (it runs the same contract suite). Saves run one at a time; tokens
 * are copied in and out.
 */
export class MemoryTokenStore implements TokenStore {
  /** The end of the queue of saves: each waits for the one before. */
  private saving: Promise<unknown> = Promise.resolve();
  private readonly upsert: UpsertBackend<null>;

  constructor(private readonly db = new MemoryDatabase()) {
    this.upsert = {
      transaction: (fn) => {
        const run = this.saving.then(() => fn(null));
        this.saving = run.catch(() => undefined);
        return run;
      },
      findById: async (_tx, id) => this.stored(db.tokens.get(id)),
      findByRule: async (_tx, rule) => this.stored(this.byRule(rule)),
      findClashes: async (_tx, token) =>
        UNIQUE_FIELDS.filter((field) => {
          const holder = token[field] === null ? undefined : db.indexes[field].get(token[field]!);
          return holder !== undefined && holder !== token.id;
        }),
      insert: async (_tx, token) => {
        if (db.tokens.has(token.id)) throw new LostRace();
        db.put(token);
      },
      update: async (_tx, token, version) => {
        if (db.tokens.get(token.id)?.version !== version) return false;
        db.put(token);
        return true;
      },
      recordAudit: async (_tx, entries) => db.record(entries),
      checkDuplicatesFirst: true,
      classify: () => 'other',
    };
  }

  async findToken(match: TokenMatch): Promise<Token | null> {
    return guarded('findToken', () => {
      const rule = requireLookupRule(match);
      const token = this.byRule(rule);
      return token && clientMatches(rule, token) ? copy(token) : null;
    });
  }

  async findTokenById(id: string): Promise<Token | null> {
    return guarded('findTokenById', () => this.stored(this.db.tokens.get(validateId(id, 'findTokenById'))));
  }

  async saveToken(input: TokenInput, options: SaveOptions = {}): Promise<Token> {
    return guarded('saveToken', async () => copy(await upsertToken(this.upsert, input, options)));
  }

  async deleteToken(id: string, options: AuditedWrite = {}): Promise<boolean> {
    return guarded('deleteToken', () => {
      if (!this.db.delete(validateId(id, 'deleteToken'))) return false;
      this.db.record([normalizeEvent(options.audit ?? { action: 'DELETE', actor: STORE_ACTOR }, { tokenId: id })]);
      return true;
    });
  }

  async getTokens(): Promise<Token[]> {
    return guarded('getTokens', () => this.db.ids().map((id) => copy(this.db.tokens.get(id)!)));
  }

  async deleteTokens(options: AuditedWrite = {}): Promise<number> {
    return guarded('deleteTokens', () => {
      const n = this.db.tokens.size;
      const entry = normalizeEvent(options.audit ?? { action: 'DELETE_ALL', actor: STORE_ACTOR });
      this.db.record(this.db.ids().map((tokenId) => ({ ...entry, tokenId })));
      this.db.clear();
      return n;
    });
  }

  async countTokens(): Promise<number> {
    return guarded('countTokens', () => this.db.tokens.size);
  }

  async listTokens(first: number, after?: string | null): Promise<TokenPage> {
    return guarded('listTokens', () => {
      validatePageSize(first);
      const afterId = after ? decodeCursor(after) : null;
      const ids = this.db.ids();
      let start = 0;
      if (afterId !== null) {
        // Binary search for the first id greater than the cursor's.
        let lo = 0;
        let hi = ids.length;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (ids[mid]! <= afterId) lo = mid + 1;
          else hi = mid;
        }
        start = lo;
      }
      const nodes = ids.slice(start, start + first).map((id) => copy(this.db.tokens.get(id)!));
      const last = nodes[nodes.length - 1];
      return { nodes, endCursor: last ? encodeCursor(last.id) : null, hasNextPage: start + first < ids.length };
    });
  }

  private stored(token: Token | null | undefined): Token | null {
    return token ? copy(token) : null;
  }

  private byRule(rule: LookupRule): Token | null {
    const id = this.db.indexes[rule.by].get(rule.value);
    return id === undefined ? null : (this.db.tokens.get(id) ?? null);
  }
}

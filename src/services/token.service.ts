import { systemActor, type AuditActor } from '../audit/audit';
import { InvalidRequestError, TokenStoreError } from '../errors';
import type { AccountsUrlPolicy } from '../oauth/accounts-url-policy';
import { AccountsUrlNotAllowedError } from '../oauth/oauth-errors';
import type { Token, TokenInput, TokenMatch, TokenPage } from '../stores/token';
import type { StatusCounts, TokenBrowse } from '../stores/token-browse';
import type { TokenStatus } from '../stores/token-status';
import type { TokenStore } from '../stores/token-store';
import type { RefreshEngine } from '../oauth/refresh-engine';
import type { TokenBudget } from '../providers/governor';
import { ZOHO, type ProviderProfile } from '../providers/provider';
import type { ProviderRegistry } from '../providers/provider-registry';
import { NO_TOKEN_EVENTS, type TokenEvents } from '../oauth/token-events';

/** The actor of calls that name none. */
const UNNAMED = systemActor('service');

/** The largest `expiresIn` accepted: ten years, in seconds. */
const MAX_EXPIRES_IN = 10 * 365 * 24 * 3600;

/** The `saveToken` input of the API: the store's input plus `expiresIn`; `provider` names a registered provider. */
export type ApiTokenInput = Omit<TokenInput, 'lastRefreshedAt' | 'lastError' | 'failedAt' | 'throttledUntil' | 'provider' | 'client'> & {
  expiresIn?: number | null;
  provider?: string | null;
};

/**
 * The use cases of the token API — find, list, save, delete, refresh,
 * revoke — over a `TokenStore` and the refresh engine. Knows nothing of
 * GraphQL or HTTP; the resolvers, the CLI and the background task call it.
 */
export class TokenService {
  constructor(
    private readonly store: TokenStore,
    private readonly browse: TokenBrowse,
    private readonly policy: AccountsUrlPolicy,
    private readonly engine: RefreshEngine,
    /** The refresh-ahead window, for the status of a token. */
    readonly refreshAheadMs: number,
    /** Told when a save re-authorizes a `FAILED` token (webhooks). */
    private readonly events: TokenEvents = NO_TOKEN_EVENTS,
    /** The registered providers (Zoho's profile among them, with the limits configured for it). */
    readonly providers: ProviderRegistry,
  ) {}

  findToken(match: TokenMatch): Promise<Token | null> {
    return this.store.findToken(match);
  }

  findTokenById(id: string): Promise<Token | null> {
    return this.store.findTokenById(id);
  }

  listTokens(first: number, after: string | null): Promise<TokenPage> {
    return this.store.listTokens(first, after);
  }

  countTokens(): Promise<number> {
    return this.store.countTokens();
  }

  /** A page of the tokens whose user name contains `text` (all tokens when it is blank) and, given `status`, in that status at `now`. */
  searchTokens(text: string | null, first: number, after: string | null, status: TokenStatus | null = null, now: Date = new Date()): Promise<TokenPage> {
    return this.browse.searchTokens(
      { userNameContains: text, status: status === null ? null : { is: status, now, windowMs: this.refreshAheadMs } },
      first,
      after,
    );
  }

  /**
   * What is left of each token's issuing budget now, by the governor's
   * counters: one read of the counters for all of them (a page of the list).
   * @returns per token id; null where its provider limits no access tokens per window (or is no longer registered).
   */
  async budgets(tokens: ReadonlyArray<Pick<Token, 'id' | 'provider'>>): Promise<Map<string, TokenBudget | null>> {
    const names = [...new Set(tokens.map((t) => t.provider))];
    const profiles = new Map(await Promise.all(names.map(async (name) => [name, await this.providers.find(name)] as const)));
    return this.engine.governor.budgets(tokens.map((t) => ({ id: t.id, profile: profiles.get(t.provider) ?? null })));
  }

  /** How many tokens are in each state now. */
  countByStatus(now: Date): Promise<StatusCounts> {
    return this.browse.countByStatus(now, this.refreshAheadMs);
  }

  /**
   * Upserts a token. Fixes its `accountsUrl` on first save (the one given,
   * else the data center of `apiDomain`, else the default) and refuses one
   * outside the allow-list. New credentials (an access, refresh or grant
   * token) clear a `FAILED` state: the token has been re-authorized.
   * Records a `SAVE` entry by `actor` (action `IMPORT` where `action` says so) in the same transaction.
   */
  async saveToken(input: ApiTokenInput, actor: AuditActor = UNNAMED, action: 'SAVE' | 'IMPORT' = 'SAVE'): Promise<Token> {
    const { expiresIn, provider: providerName, ...rest } = input;
    const write: TokenInput = { ...rest };
    // The provider: a registered one, fixed when the token is first saved; its profile says whether an accounts URL applies.
    if (providerName === null) throw new InvalidRequestError('provider cannot be cleared: leave it out to keep it');
    let profile: ProviderProfile | null = null;
    if (providerName !== undefined) {
      profile = await this.providers.require(providerName);
      write.provider = providerName;
      if (profile && !profile.usesAccountsUrl && input.accountsUrl !== undefined && input.accountsUrl !== null) {
        throw new InvalidRequestError(`accountsUrl applies to Zoho tokens only: the provider ${providerName} has its own endpoints`);
      }
    }
    if (expiresIn !== undefined && expiresIn !== null) {
      if (input.expiresAt !== undefined && input.expiresAt !== null) throw new InvalidRequestError('give expiresAt or expiresIn, not both');
      if (!Number.isInteger(expiresIn) || expiresIn < 0 || expiresIn > MAX_EXPIRES_IN)
        throw new InvalidRequestError(`expiresIn must be between 0 and ${MAX_EXPIRES_IN} seconds`);
      write.expiresAt = new Date(Date.now() + expiresIn * 1000);
    }
    if (write.accountsUrl !== undefined && write.accountsUrl !== null && (profile === null || profile.usesAccountsUrl))
      write.accountsUrl = this.allowed(write.accountsUrl);
    // A new grant token without a refresh token re-authorizes: it replaces the stored refresh token (dead, as a rule),
    // so that the next refresh exchanges the grant instead of trying that refresh token again.
    if (typeof input.grantToken === 'string' && input.grantToken.length > 0 && input.refreshToken === undefined) write.refreshToken = null;
    if ([input.accessToken, input.refreshToken, input.grantToken].some((v) => typeof v === 'string' && v.length > 0)) {
      write.failedAt = null;
      write.lastError = null;
    }
    let wasFailed = false;
    const saved = await this.store.saveToken(write, {
      audit: { action, actor },
      complete: (token, existing) => {
        wasFailed = existing?.failedAt != null;
        if (existing && providerName !== undefined && existing.provider !== providerName) {
          throw new TokenStoreError(
            'saveToken',
            'INVALID_INPUT',
            `the token belongs to the provider ${existing.provider}; a token's provider is fixed when it is first saved`,
          );
        }
        if (token.provider !== ZOHO) {
          if (token.accountsUrl !== null)
            throw new TokenStoreError(
              'saveToken',
              'INVALID_INPUT',
              `accountsUrl applies to Zoho tokens only: the provider ${token.provider} has its own endpoints`,
            );
          return;
        }
        if (token.accountsUrl !== null) return;
        try {
          token.accountsUrl = this.policy.resolve({ apiDomain: token.apiDomain ?? undefined });
        } catch (err) {
          if (err instanceof AccountsUrlNotAllowedError) throw new TokenStoreError('saveToken', 'INVALID_INPUT', err.message);
          throw err;
        }
      },
    });
    if (wasFailed && saved.failedAt === null) this.events.recovered(saved);
    return saved;
  }

  deleteToken(id: string, actor: AuditActor = UNNAMED): Promise<boolean> {
    return this.store.deleteToken(id, { audit: { action: 'DELETE', actor } });
  }

  deleteTokens(actor: AuditActor = UNNAMED): Promise<number> {
    return this.store.deleteTokens({ audit: { action: 'DELETE_ALL', actor } });
  }

  /** Gets a new access token (see `RefreshEngine.refresh`); `arrivedAt` is when the caller's request came in. */
  refresh(id: string, force: boolean, arrivedAt?: Date, actor: AuditActor = UNNAMED): Promise<Token> {
    return this.engine.refresh(id, { force, trigger: 'api', arrivedAt, actor });
  }

  /** Revokes the refresh token at the provider, then deletes the token. */
  revokeToken(id: string, actor: AuditActor = UNNAMED): Promise<boolean> {
    return this.engine.revoke(id, actor);
  }

  private allowed(url: string): string {
    try {
      return this.policy.resolve({ accountsUrl: url });
    } catch (err) {
      if (err instanceof AccountsUrlNotAllowedError) throw new InvalidRequestError(err.message);
      throw err;
    }
  }
}

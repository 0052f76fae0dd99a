import { randomBytes } from 'node:crypto';
import { systemActor, type AuditActor, type AuditEvent } from '../audit/audit';
import { systemClock, type Clock } from '../clock';
import {
  InvalidRequestError,
  ProviderUnavailableError,
  RefreshConflictError,
  RefreshRefusedError,
  ThrottledError,
  TokenNotFoundError,
  TokenStoreError,
} from '../errors';
import type { Logger } from '../logger';
import { errorShape } from '../logger';
import { hasSecret } from '../stores/sealed-secrets';
import { tokenStatus } from '../stores/token-status';
import type { Token } from '../stores/token';
import type { AuditLog } from '../stores/audit-log';
import type { LeaseStore } from '../stores/lease-store';
import type { TokenStore } from '../stores/token-store';
import { NO_TOKEN_EVENTS, type TokenEvents } from './token-events';
import { Governor, type GovernorDecision, type MintPermit } from '../providers/governor';
import type { GovernorStore } from '../stores/governor-store';
import { MemoryGovernorStore } from '../stores/memory/memory-governor-store';
import type { ProviderProfile } from '../providers/provider';
import type { ProviderRegistry } from '../providers/provider-registry';
import type { AccountsClient } from './accounts-client';
import type { AccountsUrlPolicy } from './accounts-url-policy';
import type { TokenGrant } from './token-response';
import { AccountsUrlNotAllowedError, ProviderRefusedError, UpstreamUnavailableError } from './oauth-errors';

export type RefreshTrigger = 'api' | 'background' | 'cli' | 'proxy';

/** How a refresh call ended: refreshed upstream, answered by another refresh, not needed, refused, unavailable, or another error. */
export type RefreshOutcome = 'refreshed' | 'coalesced' | 'not_needed' | 'throttled' | 'refused' | 'unavailable' | 'error';

export interface RefreshOptions {
  /** Refresh even when the token is `ACTIVE` (default true, as the API's `force`). */
  force?: boolean;
  trigger?: RefreshTrigger;
  /** Wait for another process's refresh (default); false returns the stored token at once instead (background task). */
  waitForLease?: boolean;
  /** When the caller's request arrived (default: now). A refresh completed since then answers it. */
  arrivedAt?: Date;
  /** Who asked, for the audit trail (default: `system:<trigger>`). */
  actor?: AuditActor;
  /**
   * An access token the provider refused (the API proxy after `INVALID_OAUTHTOKEN`): implies `force`,
   * and the answer is never a token still holding it — a stored or joined token holding another valid
   * one answers at once, one holding this one is refreshed.
   */
  refused?: string;
}

export interface RefreshEngineOptions {
  tokens: TokenStore;
  leases: LeaseStore;
  audit: AuditLog;
  client: AccountsClient;
  policy: AccountsUrlPolicy;
  logger: Logger;
  /** Told how every refresh call ended (metrics). */
  onOutcome?: (event: { trigger: RefreshTrigger; outcome: RefreshOutcome }) => void;
  /** Told of every governor decision (metrics). */
  onGovernorDecision?: (event: { provider: string; decision: GovernorDecision }) => void;
  /** A token this close to expiry is `EXPIRING` and worth refreshing. */
  refreshAheadMs: number;
  /** How long a refresh lease holds when its owner dies (must exceed the longest upstream call). */
  leaseMs: number;
  /** How often a waiter re-reads the store while another process refreshes. */
  pollMs?: number;
  /** Told when a token becomes `FAILED`, recovers, or fails transiently (webhooks). */
  events?: TokenEvents;
  /** The providers: a token's profile by its `provider`, Zoho's with the limits configured for it. */
  providers: ProviderRegistry;
  /** The governor's counters, shared by the processes on the database; default: this process's memory only. */
  counters?: GovernorStore;
  /** The governor every mint passes; default: one over `counters`. */
  governor?: Governor;
  /** What a caller waits by while another process refreshes (the pauses and the deadline) [the real clock]. Stored times are the wall clock's. */
  clock?: Clock;
}

/** Tokens a refresh answered without minting, because the governor said no and the held token is still valid. */
const THROTTLED_ANSWERS = new WeakSet<Token>();

/** Whether a refresh answered this token held instead of a new one (`Token.throttled` of the API). */
export function isThrottledAnswer(token: Token): boolean {
  return THROTTLED_ANSWERS.has(token);
}

/** The least validity a held token must have left to answer a refused refresh: 60 s, or a tenth of its lifetime when that is less. */
const HELD_MIN_MS = 60_000;

/**
 * Gets new access tokens from the provider, at most one upstream request per
 * token at a time:
 * - in this process, concurrent callers of one token share one flight;
 * - across processes, the flight first takes the token's lease in the
 *   database (a conditional update, correct on every engine); a process that
 *   does not get it waits, re-reading the token, and is answered by the
 *   other process's refresh.
 * A refresh that completes after a caller arrived answers that caller. The
 * result is written with compare-and-swap on the credentials that were used,
 * so a rotated refresh token never overwrites a newer one.
 */
export class RefreshEngine {
  /** Identifies this process's leases. */
  readonly owner = `${process.pid}-${randomBytes(6).toString('hex')}`;
  private readonly flights = new Map<string, Promise<Token>>();
  private readonly pollMs: number;
  private readonly events: TokenEvents;
  readonly governor: Governor;
  private readonly counters: GovernorStore;
  private readonly clock: Clock;
  /** Audit entries written in the background, and what follows them (webhook events). */
  private readonly background = new Set<Promise<void>>();

  constructor(private readonly o: RefreshEngineOptions) {
    this.pollMs = o.pollMs ?? 25;
    this.clock = o.clock ?? systemClock;
    this.events = o.events ?? NO_TOKEN_EVENTS;
    this.counters = o.counters ?? new MemoryGovernorStore(() => undefined);
    this.governor =
      o.governor ?? new Governor({ store: this.counters, leaseMs: o.leaseMs, onDecision: (provider, decision) => this.decided(provider, decision) });
  }

  private decided(provider: string, decision: GovernorDecision): void {
    this.o.onGovernorDecision?.({ provider, decision });
  }

  /** A token's provider profile. @throws `BAD_USER_INPUT` when its provider is no longer registered. */
  private profileOf(token: Token): Promise<ProviderProfile> {
    return this.o.providers.require(token.provider);
  }

  /**
   * Refreshes a token (or exchanges its grant token when it holds only one).
   * @throws TokenNotFoundError; InvalidRequestError (nothing to refresh with);
   *   RefreshRefusedError (the provider refused); ProviderUnavailableError (the token is unchanged).
   */
  async refresh(id: string, options: RefreshOptions = {}): Promise<Token> {
    const trigger = options.trigger ?? 'api';
    const { refused } = options;
    // A flight that read the store before the refusal may answer the refused token: then join or start the next one (twice at most).
    for (let attempt = 0; ; attempt++) {
      const joined = this.flights.get(id);
      if (!joined) break;
      this.o.onOutcome?.({ trigger, outcome: 'coalesced' });
      if (refused === undefined) return joined;
      const token = await joined;
      if (token.accessToken !== refused || attempt >= 1) return token;
    }
    const actor = options.actor ?? systemActor(trigger);
    const force = refused !== undefined || (options.force ?? true);
    const flight = this.fly(id, force, trigger, options.waitForLease ?? true, options.arrivedAt ?? new Date(), actor, refused).finally(() =>
      this.flights.delete(id),
    );
    this.flights.set(id, flight);
    return flight;
  }

  /** The refresh of this token in flight in this process, if any (a caller about to use the token waits for it). */
  inFlight(id: string): Promise<Token> | undefined {
    return this.flights.get(id);
  }

  /**
   * Resolves once no refresh of this engine is in flight (those started meanwhile included),
   * nor an audit entry one wrote in the background, nor the event told after it.
   */
  async idle(): Promise<void> {
    while (this.flights.size > 0 || this.background.size > 0) await Promise.allSettled([...this.flights.values(), ...this.background]);
    await this.events.idle?.();
  }

  /**
   * Store round trips before the upstream call:
   * - `force: true` (API calls, which always refresh): the lease first, then
   *   one read under it, 2 round trips. That read makes every check a read on
   *   arrival made; when the lease is taken by another process, the first read
   *   while waiting is the arrival read (the baseline its refresh shows against).
   * - `force: false` (the background task, `accessToken` lookups): one read
   *   first, so that an `ACTIVE` token is answered with one read and no write
   *   (a lease is two writes); only a token that needs a refresh takes the
   *   lease and is re-read under it (3 round trips, as before).
   */
  private async fly(
    id: string,
    force: boolean,
    trigger: RefreshTrigger,
    waitForLease: boolean,
    arrivedAt: Date,
    actor: AuditActor,
    refused?: string,
  ): Promise<Token> {
    // The token as this caller first saw it: the baseline against which a refresh by another process shows.
    let arrival: Token | null = null;
    if (!force) {
      arrival = await this.read(id);
      const answer = this.answerOnArrival(arrival, force, trigger, arrivedAt);
      if (answer) return answer;
    }

    // Another process may be refreshing it: take the lease or wait for its result.
    const deadline = this.clock.now() + this.o.leaseMs + 5_000;
    let delay = this.pollMs;
    while (!(await this.o.leases.acquireLease(id, this.owner, this.o.leaseMs))) {
      const current = await this.read(id);
      if (!arrival) {
        // Lease first, and not won: this first read is the caller's arrival read (the same checks, the baseline).
        arrival = current;
        const answer = this.answerOnArrival(arrival, force, trigger, arrivedAt, refused);
        if (answer) return answer;
      } else {
        const settled = this.settledSince(arrival, current);
        if (settled) return settled;
      }
      if (!waitForLease) return current;
      if (this.clock.now() > deadline) throw new ProviderUnavailableError("another gateway process holds this token's refresh and did not finish in time");
      await this.clock.sleep(delay * (0.5 + Math.random()));
      delay = Math.min(delay * 2, 250);
    }
    try {
      const current = await this.read(id);
      if (arrival) {
        // Re-check under the lease: a refresh may have finished since we arrived.
        const settled = this.settledSince(arrival, current);
        if (settled) {
          this.o.onOutcome?.({ trigger, outcome: 'coalesced' });
          return settled;
        }
      } else {
        // Lease won at once: this is the caller's only read, and the arrival checks are made on it
        // (a token without credentials is refused here; the lease is released below).
        const answer = this.answerOnArrival(current, force, trigger, arrivedAt, refused);
        if (answer) return answer;
        // With no earlier read to compare with, a refresh that failed for good since the caller arrived answers it too.
        if (current.failedAt && current.failedAt.getTime() >= arrivedAt.getTime()) throw new RefreshRefusedError(current.lastError ?? 'unknown_error', true);
      }
      if (!force && !this.needsRefresh(current)) {
        this.o.onOutcome?.({ trigger, outcome: 'not_needed' });
        return current;
      }
      return await this.refreshUpstream(current, trigger, actor);
    } finally {
      await this.o.leases
        .releaseLease(id, this.owner)
        .catch((err: unknown) => this.o.logger.warn({ tokenId: id, err: errorShape(err) }, 'could not release a refresh lease; it runs out by itself'));
    }
  }

  private async read(id: string): Promise<Token> {
    const token = await this.o.tokens.findTokenById(id);
    if (!token) throw new TokenNotFoundError(`no token has id ${JSON.stringify(id)}`);
    return token;
  }

  /**
   * The checks on the caller's first read of the token: the token itself when
   * it needs no refresh (`force: false`) or was refreshed since the caller
   * arrived; null when it is to be refreshed.
   * @throws InvalidRequestError for a token that cannot be refreshed.
   */
  private answerOnArrival(token: Token, force: boolean, trigger: RefreshTrigger, arrivedAt: Date, refused?: string): Token | null {
    if (!force && !this.needsRefresh(token)) {
      this.o.onOutcome?.({ trigger, outcome: 'not_needed' });
      return token;
    }
    if (refused !== undefined) {
      // Another refresh already replaced the refused token: that answers it; the refused one is refreshed whenever it was stored.
      if (token.accessToken !== refused && !this.needsRefresh(token)) {
        this.o.onOutcome?.({ trigger, outcome: 'coalesced' });
        return token;
      }
      credentialsOf(token);
      return null;
    }
    if (token.lastRefreshedAt && token.lastRefreshedAt.getTime() >= arrivedAt.getTime() && token.failedAt === null) {
      // Refreshed (here or by another process) after this caller arrived: that answers it.
      this.o.onOutcome?.({ trigger, outcome: 'coalesced' });
      return token;
    }
    credentialsOf(token); // refuse a token that cannot be refreshed (before waiting for, or calling, anyone)
    return null;
  }

  /** Whether a token is worth a refresh: not `ACTIVE` (a `FAILED` one only when asked explicitly). */
  needsRefresh(token: Token, now = Date.now()): boolean {
    return tokenStatus(token, now, this.o.refreshAheadMs) !== 'ACTIVE';
  }

  /**
   * The answer another refresh gave since `arrival` was read: the token when
   * it was refreshed meanwhile; an error when that refresh failed for good.
   */
  private settledSince(arrival: Token, current: Token): Token | null {
    const refreshed = (current.lastRefreshedAt?.getTime() ?? 0) > (arrival.lastRefreshedAt?.getTime() ?? 0);
    if (refreshed) return current;
    const failed = current.failedAt !== null && current.failedAt.getTime() > (arrival.failedAt?.getTime() ?? 0);
    if (failed) throw new RefreshRefusedError(current.lastError ?? 'unknown_error', true);
    return null;
  }

  private async refreshUpstream(token: Token, trigger: RefreshTrigger, actor: AuditActor): Promise<Token> {
    const { clientId, clientSecret, mode } = credentialsOf(token);
    const profile = await this.profileOf(token);
    const target = { provider: profile, accountsUrl: profile.usesAccountsUrl ? this.accountsUrlOf(token) : null };
    // The background task keeps the last two slots of every window for callers who ask.
    const verdict = await this.governor.permit(mode, token, profile, trigger === 'background' ? 2 : 0);
    if (!verdict.allowed) return this.onRefused(token, profile, trigger, verdict.retryAt);
    let grant: TokenGrant;
    try {
      grant =
        mode === 'refresh'
          ? await this.o.client.refresh(target, { clientId, clientSecret, refreshToken: token.refreshToken! })
          : await this.o.client.exchangeGrant(target, { clientId, clientSecret, code: token.grantToken!, redirectUri: token.redirectUrl ?? undefined });
    } catch (err) {
      await this.settleFailed(verdict.permit, token, profile, err);
      return this.onUpstreamError(token, mode, trigger, err, actor);
    }
    await verdict.permit
      .minted(Date.now())
      .catch((e: unknown) => this.o.logger.warn({ tokenId: token.id, err: errorShape(e) }, 'could not record a mint for the governor'));
    const saved = await this.storeGrant(token, mode, grant, actor);
    this.o.onOutcome?.({ trigger, outcome: 'refreshed' });
    this.o.logger.info(
      {
        tokenId: token.id,
        trigger,
        mode,
        provider: profile.name,
        rotated: Boolean(grant.refreshToken && mode === 'refresh'),
        expiresAt: grant.expiresAt?.toISOString() ?? null,
      },
      'token refreshed',
    );
    return saved;
  }

  /** Tells the governor how a failed call ended: nothing minted (a refusal, a request that never left), or unknown. */
  private async settleFailed(permit: MintPermit, token: Token, profile: ProviderProfile, err: unknown): Promise<void> {
    try {
      if (err instanceof ProviderRefusedError) {
        await permit.notMinted();
        // Zoho's rate limit: no process tries this token again before its window ends.
        if (err.oauthError === 'access_denied') await this.governor.block(token, profile);
      } else if (err instanceof AccountsUrlNotAllowedError || (err instanceof UpstreamUnavailableError && err.reason === 'network' && err.notSent)) {
        await permit.notMinted();
      } else {
        await permit.unknown();
      }
    } catch (e) {
      this.o.logger.warn({ tokenId: token.id, err: errorShape(e) }, 'could not record a mint for the governor');
    }
  }

  /**
   * The governor will not mint now. The background task leaves the token;
   * a caller gets the held access token when it is valid long enough
   * (`throttled: true`), else `THROTTLED` with `retryAfter`, and the token
   * shows `THROTTLED` until then.
   */
  private async onRefused(token: Token, profile: ProviderProfile, trigger: RefreshTrigger, retryAt: number): Promise<Token> {
    if (trigger === 'background') {
      this.decided(profile.name, 'deferred');
      return token;
    }
    const now = Date.now();
    if (this.heldIsValid(token, profile, now)) {
      this.decided(profile.name, 'held');
      this.o.onOutcome?.({ trigger, outcome: 'throttled' });
      THROTTLED_ANSWERS.add(token);
      return token;
    }
    this.decided(profile.name, 'throttled');
    this.o.onOutcome?.({ trigger, outcome: 'throttled' });
    const retryAfter = Math.max(1, Math.ceil((retryAt - now) / 1000));
    await this.counters
      .markThrottled(token.id, new Date(retryAt))
      .catch((e: unknown) => this.o.logger.warn({ tokenId: token.id, err: errorShape(e) }, 'could not record a THROTTLED status'));
    throw new ThrottledError(
      `the provider's issuing limits allow no new access token for this token now and none valid is held; retry in ${retryAfter} s`,
      retryAfter,
    );
  }

  /** Whether the held access token is valid for at least 60 s, or a tenth of its lifetime when that is less (unknown expiry: valid). */
  private heldIsValid(token: Token, profile: ProviderProfile, now: number): boolean {
    if (!hasSecret(token, 'accessToken')) return false;
    if (token.expiresAt === null) return true;
    const lifetimeMs =
      profile.limits.accessTokenLifetimeSeconds !== null
        ? profile.limits.accessTokenLifetimeSeconds * 1000
        : token.lastRefreshedAt
          ? token.expiresAt.getTime() - token.lastRefreshedAt.getTime()
          : Infinity;
    return token.expiresAt.getTime() - now >= Math.min(HELD_MIN_MS, lifetimeMs / 10);
  }

  /**
   * Stores a new access token (and a rotated refresh token, in the same
   * write), as a compare-and-swap on the credentials that were used.
   */
  private async storeGrant(used: Token, mode: 'refresh' | 'grant', grant: TokenGrant, actor: AuditActor): Promise<Token> {
    let base = used;
    const audit: AuditEvent = { action: 'REFRESH', actor, tokenId: used.id, outcome: 'OK', detail: grantType(mode) };
    for (let attempt = 0; attempt < 5; attempt++) {
      let wasFailed = false;
      try {
        const saved = await this.o.tokens.saveToken(
          {
            id: used.id,
            accessToken: grant.accessToken,
            expiresAt: grant.expiresAt,
            ...(grant.refreshToken ? { refreshToken: grant.refreshToken } : {}),
            // A grant token is single-use: once exchanged, it is gone.
            ...(mode === 'grant' ? { grantToken: null } : {}),
            ...(base.apiDomain === null && grant.apiDomain ? { apiDomain: grant.apiDomain } : {}),
            ...(base.throttledUntil !== null ? { throttledUntil: null } : {}),
            lastRefreshedAt: new Date(),
            lastError: null,
            failedAt: null,
          },
          {
            ifVersion: base.version,
            audit,
            complete: (_token, existing) => {
              wasFailed = existing?.failedAt != null;
            },
          },
        );
        if (wasFailed) this.events.recovered(saved);
        return saved;
      } catch (err) {
        if (!(err instanceof TokenStoreError && err.kind === 'CONFLICT')) throw err;
        const current = await this.o.tokens.findTokenById(used.id);
        if (!current) throw new TokenNotFoundError('the token was deleted while it was being refreshed');
        const sameCredentials = mode === 'refresh' ? current.refreshToken === used.refreshToken : current.grantToken === used.grantToken;
        if (!sameCredentials) {
          // Re-authorized meanwhile: the newer credentials win over this result.
          this.o.logger.warn({ tokenId: used.id }, 'token credentials changed during a refresh; keeping the newer ones');
          this.audit({ ...audit, detail: `${grantType(mode)}; result superseded by newer credentials` });
          return current;
        }
        base = current;
      }
    }
    throw new RefreshConflictError('the token kept changing while its refresh was stored');
  }

  private async onUpstreamError(token: Token, mode: 'refresh' | 'grant', trigger: RefreshTrigger, err: unknown, actor: AuditActor): Promise<Token> {
    if (err instanceof ProviderRefusedError) {
      // Another process may have rotated the refresh token just now: that is a success.
      const current = await this.o.tokens.findTokenById(token.id);
      if (current && (mode === 'refresh' ? current.refreshToken !== token.refreshToken : current.grantToken !== token.grantToken)) return current;
      const audit: AuditEvent = { action: 'REFRESH', actor, tokenId: token.id, outcome: 'REFUSED', errorCode: err.oauthError, detail: grantType(mode) };
      if (current) {
        let becameFailed = false;
        await this.o.tokens
          .saveToken(
            { id: token.id, lastError: err.oauthError.slice(0, 255), ...(err.permanent ? { failedAt: new Date() } : {}) },
            {
              ifVersion: current.version,
              audit,
              complete: (_token, existing) => {
                becameFailed = err.permanent && existing?.failedAt == null;
              },
            },
          )
          .then((saved) => {
            if (becameFailed) this.events.failed(saved);
          })
          .catch((e: unknown) => {
            this.o.logger.warn({ tokenId: token.id, err: errorShape(e) }, 'could not record a refresh failure');
            this.audit(audit);
          });
      }
      this.o.onOutcome?.({ trigger, outcome: 'refused' });
      this.o.logger.warn({ tokenId: token.id, trigger, mode, oauthError: err.oauthError, permanent: err.permanent }, 'the provider refused a refresh');
      throw new RefreshRefusedError(err.oauthError, err.permanent);
    }
    if (err instanceof UpstreamUnavailableError) {
      this.o.onOutcome?.({ trigger, outcome: 'unavailable' });
      // Nothing is written on a transient failure but its audit entry (in the background), which the webhooks read.
      this.audit({ action: 'REFRESH', actor, tokenId: token.id, outcome: 'UNAVAILABLE', errorCode: err.reason, detail: grantType(mode) }, () =>
        this.events.refreshUnavailable(token, err.reason),
      );
      this.o.logger.warn({ tokenId: token.id, trigger, mode, reason: err.reason }, 'the provider could not be reached; the token is unchanged');
      throw new ProviderUnavailableError('the provider could not be reached, timed out or failed; the token is unchanged', err.reason);
    }
    if (err instanceof AccountsUrlNotAllowedError) {
      throw new InvalidRequestError(err.message);
    }
    this.o.onOutcome?.({ trigger, outcome: 'error' });
    throw err;
  }

  /**
   * Revokes a token's refresh token at the provider, then deletes the token.
   * A provider that no longer knows the token (`invalid_code`) counts as
   * revoked. @returns false when there is no such token.
   */
  async revoke(id: string, actor: AuditActor = systemActor('api')): Promise<boolean> {
    const token = await this.o.tokens.findTokenById(id);
    if (!token) return false;
    const secret = token.refreshToken ?? token.accessToken;
    let detail = 'nothing to revoke at the provider';
    if (secret && token.clientId !== null) {
      try {
        const profile = await this.profileOf(token);
        const target = { provider: profile, accountsUrl: profile.usesAccountsUrl ? this.accountsUrlOf(token) : null };
        const client = token.clientSecret ? { clientId: token.clientId, clientSecret: token.clientSecret } : undefined;
        const sent = await this.o.client.revoke(target, {
          token: secret,
          tokenTypeHint: token.refreshToken ? 'refresh_token' : 'access_token',
          ...(client ? { client } : {}),
        });
        detail = sent ? 'revoked at the provider' : 'the provider has no revocation endpoint';
      } catch (err) {
        if (err instanceof UpstreamUnavailableError) {
          this.audit({ action: 'REVOKE', actor, tokenId: id, outcome: 'UNAVAILABLE', errorCode: err.reason, detail: 'not revoked; the token is still stored' });
          throw new ProviderUnavailableError('the provider could not be reached; the token was not revoked and is still stored', err.reason);
        }
        if (err instanceof AccountsUrlNotAllowedError) throw new InvalidRequestError(err.message);
        if (!(err instanceof ProviderRefusedError)) throw err;
        this.o.logger.info({ tokenId: id, oauthError: err.oauthError }, 'the provider refused the revocation; deleting the token anyway');
        detail = `the provider refused the revocation (${err.oauthError.slice(0, 64)}); deleted anyway`;
      }
    }
    const deleted = await this.o.tokens.deleteToken(id, { audit: { action: 'REVOKE', actor, tokenId: id, detail } });
    this.o.logger.info({ tokenId: id }, 'token revoked and deleted');
    return deleted;
  }

  /** Records an entry on its own, in the background (nothing else is written), then runs `then`. */
  private audit(event: AuditEvent, then?: () => void): void {
    const task = this.o.audit
      .appendAudit([event])
      .catch((e: unknown) => this.o.logger.warn({ tokenId: event.tokenId, err: errorShape(e) }, 'could not write an audit entry'))
      .then(then)
      .finally(() => this.background.delete(task));
    this.background.add(task);
  }

  private accountsUrlOf(token: Token): string {
    try {
      return this.o.policy.resolve({ accountsUrl: token.accountsUrl ?? undefined, apiDomain: token.apiDomain ?? undefined });
    } catch (err) {
      if (err instanceof AccountsUrlNotAllowedError) throw new InvalidRequestError(err.message);
      throw err;
    }
  }
}

function credentialsOf(token: Token): { clientId: string; clientSecret: string; mode: 'refresh' | 'grant' } {
  const mode = token.refreshToken ? 'refresh' : token.grantToken ? 'grant' : null;
  if (!mode) throw new InvalidRequestError('the token holds no refresh token or grant token to refresh with');
  if (!token.clientId || !token.clientSecret) throw new InvalidRequestError('the token needs a clientId and a clientSecret to refresh');
  return { clientId: token.clientId, clientSecret: token.clientSecret, mode };
}

/** The OAuth grant type a refresh used, as its audit entry names it. */
const grantType = (mode: 'refresh' | 'grant') => (mode === 'refresh' ? 'refresh_token' : 'authorization_code');

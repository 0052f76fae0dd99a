import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { systemActor, type AuditActor, type AuditEvent } from '../audit/audit';
import { InvalidRequestError, ProviderUnavailableError, RefreshConflictError, RefreshRefusedError, TokenNotFoundError, TokenStoreError } from '../errors';
import type { Logger } from '../logger';
import { tokenStatus } from '../stores/token-status';
import type { Token } from '../stores/token';
import type { AuditLog } from '../stores/audit-log';
import type { LeaseStore } from '../stores/lease-store';
import type { TokenStore } from '../stores/token-store';
import { NO_TOKEN_EVENTS, type TokenEvents } from './token-events';
import type { AccountsClient } from './accounts-client';
import type { AccountsUrlPolicy } from './accounts-url-policy';
import type { TokenGrant } from './token-response';
import { AccountsUrlNotAllowedError, ProviderRefusedError, UpstreamUnavailableError } from './oauth-errors';

export type RefreshTrigger = 'api' | 'background' | 'cli';

/** How a refresh call ended: refreshed upstream, answered by another refresh, not needed, refused, unavailable, or another error. */
export type RefreshOutcome = 'refreshed' | 'coalesced' | 'not_needed' | 'refused' | 'unavailable' | 'error';

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
  /** A token this close to expiry is `EXPIRING` and worth refreshing. */
  refreshAheadMs: number;
  /** How long a refresh lease holds when its owner dies (must exceed the longest upstream call). */
  leaseMs: number;
  /** How often a waiter re-reads the store while another process refreshes. */
  pollMs?: number;
  /** Told when a token becomes `FAILED`, recovers, or fails transiently (webhooks). */
  events?: TokenEvents;
}

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

  constructor(private readonly o: RefreshEngineOptions) {
    this.pollMs = o.pollMs ?? 25;
    this.events = o.events ?? NO_TOKEN_EVENTS;
  }

  /**
   * Refreshes a token (or exchanges its grant token when it holds only one).
   * @throws TokenNotFoundError; InvalidRequestError (nothing to refresh with);
   *   RefreshRefusedError (the provider refused); ProviderUnavailableError (the token is unchanged).
   */
  async refresh(id: string, options: RefreshOptions = {}): Promise<Token> {
    const trigger = options.trigger ?? 'api';
    const joined = this.flights.get(id);
    if (joined) {
      this.o.onOutcome?.({ trigger, outcome: 'coalesced' });
      return joined;
    }
    const actor = options.actor ?? systemActor(trigger);
    const flight = this.fly(id, options.force ?? true, trigger, options.waitForLease ?? true, options.arrivedAt ?? new Date(), actor).finally(() =>
      this.flights.delete(id),
    );
    this.flights.set(id, flight);
    return flight;
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
  private async fly(id: string, force: boolean, trigger: RefreshTrigger, waitForLease: boolean, arrivedAt: Date, actor: AuditActor): Promise<Token> {
    // The token as this caller first saw it: the baseline against which a refresh by another process shows.
    let arrival: Token | null = null;
    if (!force) {
      arrival = await this.read(id);
      const answer = this.answerOnArrival(arrival, force, trigger, arrivedAt);
      if (answer) return answer;
    }

    // Another process may be refreshing it: take the lease or wait for its result.
    const deadline = Date.now() + this.o.leaseMs + 5_000;
    let delay = this.pollMs;
    while (!(await this.o.leases.acquireLease(id, this.owner, this.o.leaseMs))) {
      const current = await this.read(id);
      if (!arrival) {
        // Lease first, and not won: this first read is the caller's arrival read (the same checks, the baseline).
        arrival = current;
        const answer = this.answerOnArrival(arrival, force, trigger, arrivedAt);
        if (answer) return answer;
      } else {
        const settled = this.settledSince(arrival, current);
        if (settled) return settled;
      }
      if (!waitForLease) return current;
      if (Date.now() > deadline) throw new ProviderUnavailableError("another gateway process holds this token's refresh and did not finish in time");
      await sleep(delay * (0.5 + Math.random()));
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
        const answer = this.answerOnArrival(current, force, trigger, arrivedAt);
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
        .catch((err: unknown) => this.o.logger.warn({ tokenId: id, err: describe(err) }, 'could not release a refresh lease; it runs out by itself'));
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
  private answerOnArrival(token: Token, force: boolean, trigger: RefreshTrigger, arrivedAt: Date): Token | null {
    if (!force && !this.needsRefresh(token)) {
      this.o.onOutcome?.({ trigger, outcome: 'not_needed' });
      return token;
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
    const accountsUrl = this.accountsUrlOf(token);
    let grant: TokenGrant;
    try {
      grant =
        mode === 'refresh'
          ? await this.o.client.refresh(accountsUrl, { clientId, clientSecret, refreshToken: token.refreshToken! })
          : await this.o.client.exchangeGrant(accountsUrl, { clientId, clientSecret, code: token.grantToken!, redirectUri: token.redirectUrl ?? undefined });
    } catch (err) {
      return this.onUpstreamError(token, mode, trigger, err, actor);
    }
    const saved = await this.storeGrant(token, mode, grant, actor);
    this.o.onOutcome?.({ trigger, outcome: 'refreshed' });
    this.o.logger.info(
      { tokenId: token.id, trigger, mode, rotated: Boolean(grant.refreshToken && mode === 'refresh'), expiresAt: grant.expiresAt.toISOString() },
      'token refreshed',
    );
    return saved;
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
            this.o.logger.warn({ tokenId: token.id, err: describe(e) }, 'could not record a refresh failure');
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
        await this.o.client.revoke(this.accountsUrlOf(token), { token: secret });
        detail = 'revoked at the provider';
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
    void this.o.audit
      .appendAudit([event])
      .catch((e: unknown) => this.o.logger.warn({ tokenId: event.tokenId, err: describe(e) }, 'could not write an audit entry'))
      .then(then);
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

/** An error's name and code for a log line, never its message (a driver message may quote a value). */
function describe(err: unknown): { name?: string; code?: unknown } {
  return { name: (err as Error)?.name, code: (err as { code?: unknown })?.code };
}

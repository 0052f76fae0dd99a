import type { AuditActor } from '../audit/audit';
import type { ConnectConfig } from '../config';
import { ErrorCode, ServiceError, TokenStoreError, badInput, notFound } from '../errors';
import type { Logger } from '../logger';
import { errorShape } from '../logger';
import type { AccountsClient } from '../oauth/accounts-client';
import type { AccountsUrlPolicy } from '../oauth/accounts-url-policy';
import { authorizationRequestUrl, codeChallengeS256, random256, stateHash } from '../oauth/authorization-request';
import { AccountsUrlNotAllowedError, ProviderRefusedError, UpstreamUnavailableError } from '../oauth/oauth-errors';
import type { TokenGrant } from '../oauth/token-response';
import type { Governor, MintPermit } from '../providers/governor';
import type { ProviderProfile } from '../providers/provider';
import type { ProviderRegistry } from '../providers/provider-registry';
import type { OAuthClient } from '../stores/client-store';
import type { PendingConnect, PendingConnectStore } from '../stores/connect-store';
import { hasSecret } from '../stores/sealed-secrets';
import type { Token, TokenInput } from '../stores/token';
import { MAX_LENGTH, generateId } from '../stores/token-rules';
import type { TokenStore } from '../stores/token-store';
import { NO_TOKEN_EVENTS, type TokenEvents } from '../oauth/token-events';
import { callbackUrl, checkScopes, type ClientService } from './client.service';

/** The `startConnect` input of the API. */
export interface StartConnectData {
  /** The OAuth client, by name (or id). */
  client: string;
  /** The user the token is saved under; required unless `tokenId` names a token. */
  userName?: string | null;
  /** Default: the client's scopes. */
  scopes?: readonly string[] | null;
  /** Where the browser comes back with the outcome: an origin of `TOKENGATE_CONNECT_RETURN_ORIGINS`. */
  returnTo?: string | null;
  /** Reconnect this token in place (its id and history kept). */
  tokenId?: string | null;
  /** At the provider's refresh-token limit, replace the oldest refresh token instead of refusing. */
  replaceOldest?: boolean | null;
}

export interface StartedConnect {
  /** Where to send the person's browser: the provider's consent screen. */
  authorizationUrl: string;
  /** When the connect stops waiting for its callback. */
  expiresAt: Date;
}

/** The outcome of a callback, named in `returnTo?connect=error&reason=…` (`shared/spec/connect.md`). */
export type ConnectFailure = 'access_denied' | 'invalid_code' | 'provider_unavailable' | 'accounts_server_not_allowed' | 'refresh_token_limit' | 'internal';

/** What the callback answers: a redirect to `returnTo`, or a small page (no `returnTo`, or a state that is not known). */
export type CallbackAnswer =
  | { kind: 'redirect'; location: string }
  | { kind: 'page'; status: number; outcome: 'ok' | 'error' | 'expired'; tokenId: string | null; reason: ConnectFailure | null };

type Outcome = { ok: true; token: Token } | { ok: false; reason: ConnectFailure };

export interface ConnectServiceOptions {
  clients: ClientService;
  connects: PendingConnectStore;
  tokens: TokenStore;
  providers: ProviderRegistry;
  policy: AccountsUrlPolicy;
  client: AccountsClient;
  governor: Governor;
  config: ConnectConfig;
  logger: Logger;
  events?: TokenEvents;
  /** The clock, in epoch ms [Date.now]: tests expire a connect with it. */
  now?: () => number;
}

/** A `state` as `random256` makes it: 43 base64url characters. Anything else is not one of ours. */
const STATE_PATTERN = /^[A-Za-z0-9_-]{43}$/;
/** Expired connects are pruned this long after they expired (clocks of processes may differ a little). */
const PRUNE_GRACE_MS = 60_000;

/**
 * The connect flow (`shared/spec/connect.md`): the authorization-code grant
 * of RFC 6749 §4.1, run by the gateway, which alone holds the client secret.
 *
 * `startConnect` stores a pending connect (random 256-bit `state`, single
 * use, PKCE where the provider uses it) and answers the provider's
 * authorization URL. The callback takes the pending connect (exactly one
 * taker, in any process), exchanges the code once (through the governor),
 * at the data center the provider named when it is an allowed Zoho accounts
 * server, and saves the token in one write with its `CONNECT` audit entry:
 * a new token, the one named by `tokenId` (its credentials replaced in
 * place), or the one of that user name. Any failure leaves every token as it
 * was. Never a secret, a code or a state in a log line, a URL it builds
 * other than the provider's, or a page.
 */
export class ConnectService {
  private readonly now: () => number;
  private readonly events: TokenEvents;
  private lastPrune = 0;
  /** Revocations of replaced refresh tokens still running (they never hold up the callback's answer). */
  private readonly background = new Set<Promise<void>>();

  constructor(private readonly o: ConnectServiceOptions) {
    this.now = o.now ?? Date.now;
    this.events = o.events ?? NO_TOKEN_EVENTS;
  }

  /** Resolves once the background work the callbacks started (revocations) has finished. */
  async idle(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
  }

  /**
   * Starts a connect: checks the request, stores the pending connect and
   * answers the provider's authorization URL.
   * @throws ServiceError `BAD_USER_INPUT`, `NOT_FOUND` (client or token), `REFRESH_TOKEN_LIMIT`.
   */
  async startConnect(input: StartConnectData, actor: AuditActor): Promise<StartedConnect> {
    const redirectUri = callbackUrl(this.o.config);
    const client = await this.o.clients.requireClient(input.client);
    const profile = await this.o.providers.require(client.provider);
    const endpoint = profile.authorizationUrl(profile.usesAccountsUrl ? (client.accountsUrl ?? this.o.policy.defaultAccountsUrl) : null);
    if (endpoint === null) throw badInput(`the provider ${profile.name} has no authorizationUrl: register it with one (saveProvider)`);
    const scopes = input.scopes === undefined || input.scopes === null ? client.scopes : checkScopes(input.scopes);
    if (scopes.length === 0) throw badInput(`no scopes: give scopes, or save the client ${client.name} with default scopes`);
    const returnTo = this.checkReturnTo(input.returnTo);
    const userName = input.userName === undefined || input.userName === null || input.userName.trim() === '' ? null : input.userName;
    // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
    if (userName !== null && (userName.length > MAX_LENGTH.userName || /[\u0000-\u001f\u007f]/.test(userName)))
      throw badInput(`userName must be at most ${MAX_LENGTH.userName} printable characters`);

    // The token the callback will write: the one named, else the one of that user name (Zoho's save rules), else a new one.
    let target: Token | null;
    const tokenId = input.tokenId === undefined || input.tokenId === null || input.tokenId === '' ? null : input.tokenId;
    if (tokenId !== null) {
      target = await this.o.tokens.findTokenById(tokenId).catch((err: unknown) => {
        if (err instanceof TokenStoreError && err.kind === 'INVALID_INPUT') return null;
        throw err;
      });
      if (!target) throw notFound(`no token has id ${JSON.stringify(tokenId.slice(0, 128))}`);
      if (userName !== null && target.userName !== null && target.userName !== userName)
        throw badInput("userName differs from the user name of the token to reconnect: leave it out to keep the token's");
      if (userName !== null && target.userName === null) {
        const other = await this.o.tokens.findToken({ userName });
        if (other && other.id !== target.id) throw badInput('another token already has this user name');
      }
    } else {
      if (userName === null) throw badInput('userName is required to connect a new account (or give tokenId to reconnect a token)');
      target = await this.o.tokens.findToken({ userName });
    }
    if (target && target.provider !== client.provider) {
      throw badInput(
        `the token ${tokenId !== null ? 'to reconnect' : 'of this user name'} belongs to the provider ${target.provider}, the client ${client.name} to ${client.provider}`,
      );
    }
    const replaceOldest = input.replaceOldest === true;
    await this.checkRefreshTokenLimit(profile, client, userName ?? target?.userName ?? null, target?.id ?? null, replaceOldest);

    const state = random256();
    const codeVerifier = profile.pkce ? random256() : null;
    const now = this.now();
    const expiresAt = new Date(now + this.o.config.ttlSeconds * 1000);
    await this.o.connects.savePendingConnect({
      stateHash: stateHash(state),
      clientRecordId: client.id,
      userName,
      scopes,
      returnTo,
      tokenId: target && tokenId !== null ? target.id : null,
      replaceOldest,
      codeVerifier,
      actor: { role: actor.role, name: actor.name, requestId: actor.requestId ?? null },
      createdAt: new Date(now),
      expiresAt,
    });
    this.maybePrune(now);
    this.o.logger.info(
      {
        client: client.name,
        provider: profile.name,
        tokenId: tokenId ?? undefined,
        reconnect: target !== null,
        pkce: codeVerifier !== null,
        expiresAt: expiresAt.toISOString(),
      },
      'connect started',
    );
    const authorizationUrl = authorizationRequestUrl({
      endpoint,
      clientId: client.clientId,
      redirectUri,
      scopes,
      state,
      zoho: profile.kind === 'zoho',
      codeChallenge: codeVerifier && codeChallengeS256(codeVerifier),
    });
    return { authorizationUrl, expiresAt };
  }

  /**
   * The provider's redirect back (`GET /oauth/callback`). Takes the pending
   * connect of `state` (a second callback with it finds nothing), then
   * completes it; every outcome is an answer, never a throw.
   */
  async callback(query: Record<string, unknown>): Promise<CallbackAnswer> {
    const state = single(query.state);
    if (state === null || !STATE_PATTERN.test(state)) return expired();
    let pending: PendingConnect | null;
    try {
      pending = await this.o.connects.takePendingConnect(stateHash(state));
    } catch (err) {
      this.o.logger.error({ err: errorShape(err) }, 'connect callback: the pending connects could not be read');
      return { kind: 'page', status: 503, outcome: 'error', tokenId: null, reason: 'internal' };
    }
    if (!pending) return expired();
    if (pending.expiresAt.getTime() <= this.now()) {
      this.o.logger.info({ startedAt: pending.createdAt.toISOString() }, 'connect callback after the connect expired');
      return expired();
    }
    let outcome: Outcome;
    try {
      outcome = await this.complete(pending, query);
    } catch (err) {
      this.o.logger.error({ err: errorShape(err) }, 'connect callback failed');
      outcome = { ok: false, reason: 'internal' };
    }
    if (!outcome.ok) this.o.logger.warn({ reason: outcome.reason, tokenId: pending.tokenId ?? undefined }, 'connect failed; no token was written');
    return answer(pending.returnTo, outcome);
  }

  /** Exchanges the code and saves the token; any failure is an outcome with nothing written. */
  private async complete(pending: PendingConnect, query: Record<string, unknown>): Promise<Outcome> {
    const error = single(query.error);
    if (error !== null)
      return { ok: false, reason: error === 'server_error' || error === 'temporarily_unavailable' ? 'provider_unavailable' : 'access_denied' };
    const code = single(query.code);
    if (code === null || code.length === 0 || code.length > MAX_LENGTH.secret) return { ok: false, reason: 'invalid_code' };

    const client = await this.o.clients.findClient(pending.clientRecordId);
    if (!client) {
      this.o.logger.warn({}, 'connect callback: the OAuth client was deleted since the connect started');
      return { ok: false, reason: 'internal' };
    }
    const profile = await this.o.providers.find(client.provider);
    if (!profile) return { ok: false, reason: 'internal' };

    // Zoho names the user's data center: the code is exchanged there, and the token refreshes there.
    let accountsUrl: string | null = null;
    if (profile.usesAccountsUrl) {
      const server = single(query['accounts-server']);
      const chosen = server ?? client.accountsUrl ?? this.o.policy.defaultAccountsUrl;
      if (!this.o.policy.isAllowed(chosen)) return { ok: false, reason: 'accounts_server_not_allowed' };
      accountsUrl = this.o.policy.normalizeAccountsUrl(chosen);
    }

    let existing: Token | null = null;
    if (pending.tokenId !== null) {
      existing = await this.o.tokens.findTokenById(pending.tokenId);
      if (!existing) {
        this.o.logger.warn({ tokenId: pending.tokenId }, 'connect callback: the token to reconnect was deleted since the connect started');
        return { ok: false, reason: 'internal' };
      }
    } else if (pending.userName !== null) {
      existing = await this.o.tokens.findToken({ userName: pending.userName });
    }
    if (existing && existing.provider !== client.provider) return { ok: false, reason: 'internal' };
    const id = existing?.id ?? generateId();
    const userName = pending.userName ?? existing?.userName ?? null;
    try {
      await this.checkRefreshTokenLimit(profile, client, userName, existing?.id ?? null, pending.replaceOldest);
    } catch (err) {
      if (err instanceof ServiceError && err.code === ErrorCode.REFRESH_TOKEN_LIMIT) return { ok: false, reason: 'refresh_token_limit' };
      throw err;
    }

    // One grant exchange, counted by the governor against the client's grant window.
    const verdict = await this.o.governor.permit('grant', { id, clientId: client.clientId }, profile);
    if (!verdict.allowed) {
      this.o.logger.warn(
        { provider: profile.name, client: client.name, reason: verdict.reason, retryAt: new Date(verdict.retryAt).toISOString() },
        'connect callback: the governor allows no grant exchange now',
      );
      return { ok: false, reason: 'provider_unavailable' };
    }
    // The redirect URI the authorization request carried (startConnect): RFC 6749 §4.1.3 wants the same one here.
    const redirectUri = callbackUrl(this.o.config);
    let grant: TokenGrant;
    try {
      grant = await this.o.client.exchangeGrant(
        { provider: profile, accountsUrl },
        { clientId: client.clientId, clientSecret: client.clientSecret, code, redirectUri, codeVerifier: pending.codeVerifier },
      );
    } catch (err) {
      await settle(verdict.permit, err).catch(() => undefined);
      if (err instanceof ProviderRefusedError) {
        this.o.logger.warn({ provider: profile.name, oauthError: err.oauthError }, 'connect callback: the provider refused the code');
        return { ok: false, reason: err.oauthError === 'access_denied' ? 'provider_unavailable' : 'invalid_code' };
      }
      if (err instanceof UpstreamUnavailableError) {
        this.o.logger.warn({ provider: profile.name, reason: err.reason }, 'connect callback: the provider could not be reached');
        return { ok: false, reason: 'provider_unavailable' };
      }
      if (err instanceof AccountsUrlNotAllowedError) return { ok: false, reason: 'accounts_server_not_allowed' };
      throw err;
    }
    await verdict.permit.minted(this.now()).catch((e: unknown) => this.o.logger.warn({ err: errorShape(e) }, 'could not record a mint for the governor'));

    const saved = await this.saveGrant(id, existing, userName, client, profile, accountsUrl, grant, pending);
    if (!saved.ok) {
      // Nothing half-saved: the tokens the provider just issued are revoked, as no stored token holds them.
      this.revokeLater(
        { provider: profile, accountsUrl },
        grant.refreshToken ? { token: grant.refreshToken, tokenTypeHint: 'refresh_token' } : { token: grant.accessToken, tokenTypeHint: 'access_token' },
        client,
      );
      return saved;
    }
    const token = saved.token;
    const previous = existing && grant.refreshToken && existing.refreshToken && existing.refreshToken !== grant.refreshToken ? existing : null;
    if (previous) {
      // A reconnect never accumulates refresh tokens: the one it replaced is revoked where it was issued.
      const previousProfile = await this.o.providers.find(previous.provider);
      if (previousProfile)
        this.revokeLater(
          { provider: previousProfile, accountsUrl: previousProfile.usesAccountsUrl ? previous.accountsUrl : null },
          { token: previous.refreshToken!, tokenTypeHint: 'refresh_token' },
          previous,
        );
    }
    this.events.connected(token);
    if (existing?.failedAt) this.events.recovered(token);
    this.o.logger.info({ tokenId: token.id, client: client.name, provider: profile.name, accountsUrl, created: existing === null }, 'account connected');
    return { ok: true, token };
  }

  /** Stores the grant: one write of the token with its `CONNECT` entry; on any failure nothing is written. */
  private async saveGrant(
    id: string,
    existing: Token | null,
    userName: string | null,
    client: OAuthClient,
    profile: ProviderProfile,
    accountsUrl: string | null,
    grant: TokenGrant,
    pending: PendingConnect,
  ): Promise<Outcome> {
    const now = new Date(this.now());
    const input: TokenInput = {
      id,
      ...(userName !== null ? { userName } : {}),
      clientId: client.clientId,
      clientSecret: client.clientSecret,
      accessToken: grant.accessToken,
      // A provider that sends no refresh token leaves the one held (Zoho always sends one with access_type=offline).
      ...(grant.refreshToken ? { refreshToken: grant.refreshToken } : existing ? {} : { refreshToken: null }),
      grantToken: null,
      expiresAt: grant.expiresAt,
      redirectUrl: callbackUrl(this.o.config),
      ...(grant.apiDomain ? { apiDomain: grant.apiDomain } : {}),
      ...(profile.usesAccountsUrl ? { accountsUrl } : {}),
      provider: profile.name,
      client: client.name,
      lastRefreshedAt: now,
      lastError: null,
      failedAt: null,
      throttledUntil: null,
    };
    try {
      const token = await this.o.tokens.saveToken(input, {
        audit: { action: 'CONNECT', actor: pending.actor, tokenId: id, detail: existing ? 'reconnected' : 'connected' },
        complete: (_token, stored) => {
          // Written meanwhile by someone else: a token of another provider is never taken over.
          if (stored && stored.provider !== profile.name) throw new TokenStoreError('saveToken', 'CONFLICT', 'the token belongs to another provider');
          if (!existing && stored) throw new TokenStoreError('saveToken', 'CONFLICT', 'a token with this id appeared meanwhile');
        },
      });
      return { ok: true, token };
    } catch (err) {
      this.o.logger.error({ tokenId: id, err: errorShape(err) }, 'connect callback: the token could not be saved; nothing was written');
      return { ok: false, reason: 'internal' };
    }
  }

  /**
   * The provider's refresh-token limit per user and client
   * (`refreshTokensPerUser`, Zoho: 20): the stored tokens holding a refresh
   * token of this provider, client id and user name, other than the one
   * the connect replaces (whose refresh token is revoked once the new one is
   * stored). The gateway can only count the tokens it holds.
   * @throws ServiceError `REFRESH_TOKEN_LIMIT` at the limit, unless `replaceOldest`.
   */
  private async checkRefreshTokenLimit(
    profile: ProviderProfile,
    client: OAuthClient,
    userName: string | null,
    replacing: string | null,
    replaceOldest: boolean,
  ): Promise<void> {
    const limit = profile.limits.refreshTokensPerUser;
    if (limit === null || userName === null || replaceOldest) return;
    // A user name is unique among the stored tokens: the one token of that user name is all there is to count.
    const held = await this.o.tokens.findToken({ userName });
    const counted =
      held && held.id !== replacing && held.provider === profile.name && held.clientId === client.clientId && hasSecret(held, 'refreshToken') ? 1 : 0;
    if (counted >= limit) {
      throw new ServiceError(
        ErrorCode.REFRESH_TOKEN_LIMIT,
        `this user already holds ${counted} refresh token${counted === 1 ? '' : 's'} of this client, the provider's limit (${limit}): pass replaceOldest: true to replace the oldest`,
        { limit },
      );
    }
  }

  /** Revokes a token at the provider in the background (best effort: logged, never thrown). */
  private revokeLater(
    target: { provider: ProviderProfile; accountsUrl: string | null },
    what: { token: string; tokenTypeHint: 'refresh_token' | 'access_token' },
    credentials: { clientId: string | null; clientSecret: string | null },
  ): void {
    const client = credentials.clientId && credentials.clientSecret ? { clientId: credentials.clientId, clientSecret: credentials.clientSecret } : undefined;
    const work = this.o.client
      .revoke(target, { ...what, ...(client ? { client } : {}) })
      .then(() => this.o.logger.info({ provider: target.provider.name }, 'connect: revoked a refresh token no stored token holds any more'))
      .catch((err: unknown) =>
        this.o.logger.warn(
          { provider: target.provider.name, err: errorShape(err), oauthError: err instanceof ProviderRefusedError ? err.oauthError : undefined },
          'connect: could not revoke a replaced refresh token',
        ),
      );
    this.background.add(work);
    void work.finally(() => this.background.delete(work));
  }

  /** `returnTo`: an absolute http(s) URL on an allowed origin, without credentials. @returns null when absent. */
  private checkReturnTo(raw: string | null | undefined): string | null {
    if (raw === undefined || raw === null || raw === '') return null;
    const refuse = () =>
      badInput(
        `returnTo must be an http(s) URL on an origin of TOKENGATE_CONNECT_RETURN_ORIGINS${this.o.config.returnOrigins.length > 0 ? ` (${this.o.config.returnOrigins.join(', ')})` : ' (none is configured)'}`,
      );
    if (typeof raw !== 'string' || raw.length > 1024) throw refuse();
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw refuse();
    }
    if (
      (url.protocol !== 'https:' && url.protocol !== 'http:') ||
      url.username !== '' ||
      url.password !== '' ||
      !this.o.config.returnOrigins.includes(url.origin)
    )
      throw refuse();
    return url.toString();
  }

  /** Expired connects are deleted now and then (at most once a minute per process). */
  private maybePrune(now: number): void {
    if (now - this.lastPrune < 60_000) return;
    this.lastPrune = now;
    void this.o.connects
      .prunePendingConnects(new Date(now - PRUNE_GRACE_MS))
      .catch((err: unknown) => this.o.logger.warn({ err: errorShape(err) }, 'could not prune expired connects'));
  }
}

/** Tells the governor how a failed exchange ended. */
async function settle(permit: MintPermit, err: unknown): Promise<void> {
  if (
    err instanceof ProviderRefusedError ||
    err instanceof AccountsUrlNotAllowedError ||
    (err instanceof UpstreamUnavailableError && err.reason === 'network' && err.notSent)
  )
    await permit.notMinted();
  else await permit.unknown();
}

/** A query parameter given once as a string; null when absent or repeated. */
function single(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

function expired(): CallbackAnswer {
  return { kind: 'page', status: 400, outcome: 'expired', tokenId: null, reason: null };
}

/** The browser's way back: `returnTo` with the outcome appended (its own query kept), else a page. */
function answer(returnTo: string | null, outcome: Outcome): CallbackAnswer {
  if (returnTo !== null) {
    const url = new URL(returnTo);
    url.searchParams.append('connect', outcome.ok ? 'ok' : 'error');
    if (outcome.ok) url.searchParams.append('token', outcome.token.id);
    else url.searchParams.append('reason', outcome.reason);
    return { kind: 'redirect', location: url.toString() };
  }
  if (outcome.ok) return { kind: 'page', status: 200, outcome: 'ok', tokenId: outcome.token.id, reason: null };
  const status = outcome.reason === 'provider_unavailable' ? 502 : outcome.reason === 'internal' ? 500 : 400;
  return { kind: 'page', status, outcome: 'error', tokenId: null, reason: outcome.reason };
}

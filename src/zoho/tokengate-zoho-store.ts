/**
 * A Zoho CRM SDK token store (the six-method `TokenStore` of
 * `@zohocrm/typescript-sdk-8.0`) that keeps the tokens in tokengate, over its
 * API. Every instance of a Zoho SDK app pointed at one gateway shares one set
 * of tokens, and the gateway refreshes them: one upstream refresh per token
 * however many app instances ask at once.
 *
 * ```ts
 * import { InitializeBuilder, OAuthBuilder, USDataCenter } from '@zohocrm/typescript-sdk-8.0';
 * import { TokengateZohoStore } from 'tokengate/zoho';
 * const store = new TokengateZohoStore({ url: 'http://127.0.0.1:4000', apiKey: process.env.TOKENGATE_API_KEY! });
 * const token = new OAuthBuilder().id('42').build();
 * await new InitializeBuilder().environment(USDataCenter.PRODUCTION()).token(token).store(store).initialize();
 * ```
 */
import type { Token as ZohoToken } from '@zohocrm/typescript-sdk-8.0/dist/models/authenticator/token';
import type { TokenStore as ZohoTokenStore } from '@zohocrm/typescript-sdk-8.0/dist/models/authenticator/store/token_store';
// The SDK's modules import each other in a cycle that only its index loads in a working order.
import { OAuthToken, SDKException, UserSignature } from '@zohocrm/typescript-sdk-8.0';
import { TokengateClient, TokengateError, type Token, type TokenInput, type TokenMatch, type TokengateClientOptions } from '@tokengate/client';

export interface TokengateZohoStoreOptions extends Omit<TokengateClientOptions, 'secrets'> {
  /**
   * Who refreshes access tokens:
   * - `gateway` (the default): `findToken` and `findTokenById` ask the gateway
   *   for a valid access token (`refresh(id, force: false)`), so the SDK gets
   *   one that is good for minutes and never refreshes itself; concurrent app
   *   instances share the gateway's single refresh. Where the gateway cannot
   *   refresh (the provider refused or is down, or the token holds nothing to
   *   refresh with), the stored token is returned while its access token is
   *   still valid (beyond the SDK's own 5-second margin); an expired one is
   *   never handed over: the call fails with an `SDKException` (`TOKEN_STORE`)
   *   naming the gateway's code, as the SDK's own refresh fails when Accounts
   *   cannot be reached.
   * - `sdk`: the tokens are returned as stored; the SDK refreshes them itself
   *   at its accounts URL when they have expired, and saves the result here.
   */
  refresh?: 'gateway' | 'sdk';
  /**
   * Also read the refresh token, client secret and grant token (an admin key),
   * for apps whose `OAuthBuilder` names only an id or a user and that must be
   * able to refresh by themselves [false: an operator key suffices].
   */
  readSecrets?: boolean;
  /** A client to use instead of one built from `url` and `apiKey`. */
  client?: TokengateClient;
}

/** Codes after which `findToken` falls back to the stored token instead of failing. */
const FALL_BACK_ON = new Set(['REFRESH_FAILED', 'UPSTREAM_UNAVAILABLE', 'BAD_USER_INPUT', 'TIMEOUT']);

const present = (v: string | null | undefined): v is string => typeof v === 'string' && v.length > 0;

/** The SDK refreshes by itself when fewer than this many ms remain (its `getTokenExpiry`). */
const SDK_EXPIRY_MARGIN_MS = 5_000;

/** Whether a stored token's access token is one the SDK will use as it is (an unknown expiry counts as valid, as for the SDK). */
const stillValid = (t: Token): boolean => present(t.accessToken) && (t.expiresAt === null || t.expiresAt.getTime() - Date.now() > SDK_EXPIRY_MARGIN_MS);

/** Zoho's `expiry_time` (epoch ms as a string) of an instant. */
const expiryOf = (at: Date | null): string | null => (at === null ? null : String(at.getTime()));

/**
 * The Zoho SDK `TokenStore` over tokengate. Field mapping: the SDK's
 * `userSignature` name is tokengate's `userName`, its `expiresIn` (epoch ms as
 * a string) is `expiresAt`, its `redirectURL`/`APIDomain` are
 * `redirectUrl`/`apiDomain`; ids are tokengate's. Errors are the SDK's
 * `SDKException` with code `TOKEN_STORE`, whose `cause` is the
 * {@link TokengateError} (with the API's code).
 */
export class TokengateZohoStore implements ZohoTokenStore {
  readonly client: TokengateClient;
  private readonly mode: 'gateway' | 'sdk';

  constructor(options: TokengateZohoStoreOptions) {
    this.client = options.client ?? new TokengateClient({ ...options, secrets: options.readSecrets ? 'all' : 'access' });
    this.mode = options.refresh ?? 'gateway';
  }

  /**
   * Zoho's `findToken`: the token Zoho's lookup rules find for the SDK's
   * token (user name, else access token, else grant token, else refresh
   * token), merged into it as the SDK's own stores do — fields the SDK's
   * token lacks are filled in; in `gateway` mode the access token and its
   * expiry are always the gateway's. @returns the SDK's token, or null.
   */
  async findToken(token: ZohoToken): Promise<ZohoToken | null> {
    const sdkToken = token as OAuthToken;
    const match = matchOf(sdkToken);
    if (!present(match.userName) && !present(match.accessToken) && !present(match.grantToken) && !present(match.refreshToken)) return null;
    const found = await this.call('findToken', () => this.client.getToken(match));
    if (!found) return null;
    const current = this.mode === 'gateway' ? await this.fresh(found) : { token: found, fresh: false };
    if (!current) return null;
    mergeInto(sdkToken, current.token, current.fresh);
    return sdkToken;
  }

  /** Zoho's `findTokenById`. @returns the token, or null (the SDK's own stores throw). */
  async findTokenById(id: string): Promise<ZohoToken | null> {
    const found = await this.call('findTokenById', () => this.client.getToken(id));
    if (!found) return null;
    const current = this.mode === 'gateway' ? await this.fresh(found) : { token: found, fresh: false };
    return current ? toOAuthToken(current.token) : null;
  }

  /**
   * Zoho's `saveToken`: an upsert in the gateway (by id, else Zoho's lookup
   * rules; never a duplicate). Only the fields the SDK's token holds are
   * written — a null there means "not known here", never "clear it". A grant
   * token is left out once the token holds a refresh and an access token
   * (it has been exchanged; grant tokens are single-use). Sets the id the
   * gateway gave the token on the SDK's token.
   */
  async saveToken(token: ZohoToken): Promise<void> {
    const sdkToken = token as OAuthToken;
    const saved = await this.call('saveToken', () => this.client.saveToken(inputOf(sdkToken)));
    sdkToken.setId(saved.id);
  }

  /** Zoho's `deleteToken`; an unknown id is not an error. */
  async deleteToken(id: string): Promise<void> {
    await this.call('deleteToken', () => this.client.deleteToken(id));
  }

  /** Zoho's `getTokens`: every token (`[]` when none), read a page at a time. */
  async getTokens(): Promise<ZohoToken[]> {
    return this.call('getTokens', async () => {
      const all: ZohoToken[] = [];
      for await (const t of this.client.allTokens()) all.push(toOAuthToken(t));
      return all;
    });
  }

  /** Zoho's `deleteTokens` (needs an admin key). */
  async deleteTokens(): Promise<void> {
    await this.call('deleteTokens', () => this.client.deleteTokens());
  }

  /**
   * The token with an access token valid beyond the gateway's refresh-ahead
   * window, refreshed by the gateway when needed (`fresh: true`); the stored
   * token when the gateway cannot refresh it; null when it was deleted meanwhile.
   */
  private async fresh(token: Token): Promise<{ token: Token; fresh: boolean } | null> {
    try {
      return { token: await this.client.refresh(token.id, { force: false }), fresh: true };
    } catch (err) {
      if (err instanceof TokengateError && err.code === 'NOT_FOUND') return null;
      if (err instanceof TokengateError && FALL_BACK_ON.has(err.code) && stillValid(token)) return { token, fresh: false };
      if (err instanceof TokengateError && FALL_BACK_ON.has(err.code)) {
        throw new SDKException(
          'TOKEN_STORE',
          `tokengate could not refresh token ${token.id} (${err.code}${err.oauthError ? ` ${err.oauthError}` : ''}: ${err.message}) and its stored access token has expired`,
          { code: err.code, ...(err.oauthError ? { oauthError: err.oauthError } : {}) },
          err,
        );
      }
      throw this.wrap('findToken', err);
    }
  }

  private async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.wrap(operation, err);
    }
  }

  private wrap(operation: string, err: unknown): SDKException {
    if (err instanceof SDKException) return err;
    const te = err instanceof TokengateError ? err : null;
    return new SDKException(
      'TOKEN_STORE',
      `tokengate ${operation} failed: ${te ? `${te.code}: ${te.message}` : 'unexpected error'}`,
      te ? { code: te.code, ...(te.oauthError ? { oauthError: te.oauthError } : {}) } : null,
      err,
    );
  }
}

/** The partial token of Zoho's `find_token` from an SDK token. */
function matchOf(t: OAuthToken): TokenMatch {
  const match: TokenMatch = {};
  const userName = t.getUserSignature()?.getName();
  if (present(userName)) match.userName = userName;
  for (const [field, value] of [
    ['accessToken', t.getAccessToken()],
    ['refreshToken', t.getRefreshToken()],
    ['grantToken', t.getGrantToken()],
    ['clientId', t.getClientId()],
    ['clientSecret', t.getClientSecret()],
  ] as const) {
    if (present(value)) match[field] = value;
  }
  return match;
}

/** The `saveToken` input of an SDK token: its non-null fields. */
function inputOf(t: OAuthToken): TokenInput {
  const input: TokenInput = {};
  const set = <K extends keyof TokenInput>(k: K, v: TokenInput[K] | undefined) => {
    if (v !== null && v !== undefined && v !== '') input[k] = v;
  };
  set('id', t.getId());
  set('userName', t.getUserSignature()?.getName());
  set('clientId', t.getClientId());
  set('clientSecret', t.getClientSecret());
  set('refreshToken', t.getRefreshToken());
  set('accessToken', t.getAccessToken());
  if (!(present(t.getRefreshToken()) && present(t.getAccessToken()))) set('grantToken', t.getGrantToken());
  const expiresIn = t.getExpiresIn() as string | null | undefined;
  if (expiresIn !== null && expiresIn !== undefined && /^\d{1,16}$/.test(String(expiresIn))) input.expiresAt = new Date(Number(expiresIn));
  set('redirectUrl', t.getRedirectURL());
  set('apiDomain', t.getAPIDomain());
  return input;
}

/**
 * Fills an SDK token from a gateway token as the SDK's stores do (a field
 * already set on the SDK's token is kept); with `gatewayWins`, the access
 * token and its expiry are the gateway's in any case.
 */
function mergeInto(t: OAuthToken, g: Token, gatewayWins: boolean): void {
  if (t.getId() === null || t.getId() === undefined) t.setId(g.id);
  if (!t.getUserSignature() && g.userName) t.setUserSignature(new UserSignature(g.userName));
  if (!t.getClientId() && g.clientId) t.setClientId(g.clientId);
  if (!t.getClientSecret() && g.clientSecret) t.setClientSecret(g.clientSecret);
  if (!t.getRefreshToken() && g.refreshToken) t.setRefreshToken(g.refreshToken);
  if (!t.getGrantToken() && g.grantToken) t.setGrantToken(g.grantToken);
  if (!t.getRedirectURL() && g.redirectUrl) t.setRedirectURL(g.redirectUrl);
  if (!t.getAPIDomain() && g.apiDomain) t.setAPIDomain(g.apiDomain);
  const gatewayAccess = g.accessToken ?? null;
  if ((gatewayWins && gatewayAccess) || !t.getAccessToken()) {
    t.setAccessToken(gatewayAccess);
    const expiry = expiryOf(g.expiresAt);
    if (expiry !== null) t.setExpiresIn(expiry);
  }
}

/** A new SDK token holding a gateway token. */
function toOAuthToken(g: Token): OAuthToken {
  const t = new OAuthToken(
    g.clientId,
    g.clientSecret ?? null,
    g.grantToken ?? null,
    g.refreshToken ?? null,
    g.redirectUrl,
    g.id,
    g.accessToken ?? null,
    g.userName ? new UserSignature(g.userName) : null,
  );
  const expiry = expiryOf(g.expiresAt);
  if (expiry !== null) t.setExpiresIn(expiry);
  if (g.apiDomain) t.setAPIDomain(g.apiDomain);
  return t;
}

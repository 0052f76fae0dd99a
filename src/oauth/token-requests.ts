/**
 * Builders of the requests to Zoho's Accounts server (`shared/spec/oauth.md`,
 * "Requests"). Pure: they build a URL and a form body and send nothing; the
 * `AccountsClient` sends them. The URL is built from an accounts origin the
 * caller has already checked against the allow-list.
 *
 * Parameters travel in the `application/x-www-form-urlencoded` body (RFC 6749
 * §4.1.3, §6; RFC 7009 §2.1), never in the query string, where proxies and
 * access logs would record them.
 */

/** A request to the Accounts server: POST `body` (form-urlencoded) to `url`. */
export interface TokenRequest {
  /** The absolute endpoint URL. */
  readonly url: string;
  /** The form parameters, secrets included: never log it. */
  readonly body: URLSearchParams;
}

/** The credentials of a refresh (RFC 6749 §6). */
export interface RefreshTokenParams {
  clientId: string;
  clientSecret: string;
  refreshToken: string;
}

/** The credentials of a grant exchange (RFC 6749 §4.1.3). */
export interface AuthorizationCodeParams {
  clientId: string;
  clientSecret: string;
  /** The grant token (authorization code): single-use, lives about 3 minutes. */
  code: string;
  /** The redirect URI the code was issued for, when known; sent only then. */
  redirectUri?: string | null;
}

/** What a revocation needs (RFC 7009 §2.1). */
export interface RevokeParams {
  /** The refresh token to revoke (or an access token). */
  token: string;
}

/** The token endpoint of an Accounts server: `{accountsUrl}/oauth/v2/token`. */
export function tokenEndpoint(accountsUrl: string): string {
  return `${trimSlash(accountsUrl)}/oauth/v2/token`;
}

/** The revocation endpoint of an Accounts server: `{accountsUrl}/oauth/v2/token/revoke`. */
export function revokeEndpoint(accountsUrl: string): string {
  return `${trimSlash(accountsUrl)}/oauth/v2/token/revoke`;
}

/**
 * A refresh: `grant_type=refresh_token`, `client_id`, `client_secret`,
 * `refresh_token` to the token endpoint (RFC 6749 §6).
 * @throws TypeError when a parameter is not a non-empty string (naming the parameter, never a value).
 */
export function refreshTokenRequest(accountsUrl: string, params: RefreshTokenParams): TokenRequest {
  return {
    url: tokenEndpoint(accountsUrl),
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      client_id: required(params.clientId, 'clientId'),
      client_secret: required(params.clientSecret, 'clientSecret'),
      refresh_token: required(params.refreshToken, 'refreshToken'),
    }),
  };
}

/**
 * A grant exchange: `grant_type=authorization_code`, `client_id`,
 * `client_secret`, `redirect_uri` (only when known), `code` to the token
 * endpoint (RFC 6749 §4.1.3).
 * @throws TypeError when a parameter is not a non-empty string (naming the parameter, never a value).
 */
export function authorizationCodeRequest(accountsUrl: string, params: AuthorizationCodeParams): TokenRequest {
  const body = new URLSearchParams({
    grant_type: 'authorization_code',
    client_id: required(params.clientId, 'clientId'),
    client_secret: required(params.clientSecret, 'clientSecret'),
  });
  if (params.redirectUri !== undefined && params.redirectUri !== null && params.redirectUri !== '') {
    body.set('redirect_uri', required(params.redirectUri, 'redirectUri'));
  }
  body.set('code', required(params.code, 'code'));
  return { url: tokenEndpoint(accountsUrl), body };
}

/**
 * A revocation: `token` to `{accountsUrl}/oauth/v2/token/revoke` (RFC 7009
 * §2.1; Zoho's documentation puts it in the query string, and Zoho accepts
 * the body as well).
 * @throws TypeError when the token is not a non-empty string.
 */
export function revokeRequest(accountsUrl: string, params: RevokeParams): TokenRequest {
  return { url: revokeEndpoint(accountsUrl), body: new URLSearchParams({ token: required(params.token, 'token') }) };
}

function required(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new TypeError(`${name} must be a non-empty string`);
  return value;
}

function trimSlash(accountsUrl: string): string {
  return accountsUrl.replace(/\/+$/, '');
}

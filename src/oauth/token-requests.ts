/**
 * Builders of the requests to a provider's token and revocation endpoints
 * (RFC 6749 §4.1.3, §6; RFC 7009 §2.1). Pure: they build a URL, a form body
 * and headers and send nothing; the `AccountsClient` sends them. Which URL
 * and which client authentication is the provider profile's business
 * (`src/providers/`): the caller passes an endpoint it has already checked
 * against the allow-list.
 *
 * Parameters travel in the `application/x-www-form-urlencoded` body (or the
 * `Authorization` header, for `client_secret_basic`), never in the query
 * string, where proxies and access logs would record them.
 */

/** How the client authenticates at the token endpoint (RFC 6749 §2.3.1). */
export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post';
export const CLIENT_AUTH_METHODS: readonly ClientAuthMethod[] = ['client_secret_basic', 'client_secret_post'];

/** An endpoint to send a request to, and how the client authenticates there. */
export interface Endpoint {
  /** The absolute endpoint URL, already checked against the allow-list. */
  readonly url: string;
  /** `client_secret_post`: `client_id`/`client_secret` in the body (Zoho); `client_secret_basic`: HTTP Basic. */
  readonly clientAuth: ClientAuthMethod;
}

/** A request to the provider: POST `body` (form-urlencoded) to `url`, with `headers`. */
export interface TokenRequest {
  /** The absolute endpoint URL. */
  readonly url: string;
  /** The form parameters, secrets included: never log it. */
  readonly body: URLSearchParams;
  /** Extra headers (`authorization` for Basic authentication): never log them. */
  readonly headers: Readonly<Record<string, string>>;
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
  /** The grant token (authorization code): single-use, lives about 3 minutes at Zoho. */
  code: string;
  /** The redirect URI the code was issued for, when known; sent only then. */
  redirectUri?: string | null;
  /** The PKCE code verifier (RFC 7636 §4.5), for a provider that uses PKCE; sent only when given. */
  codeVerifier?: string | null;
}

/** What a revocation needs (RFC 7009 §2.1). */
export interface RevokeParams {
  /** The refresh token to revoke (or an access token). */
  token: string;
  /** `refresh_token` or `access_token` (RFC 7009 §2.1), sent when given. */
  tokenTypeHint?: 'refresh_token' | 'access_token';
  /** The client's credentials: a provider that authenticates revocations (RFC 7009 §2.1) gets them as it gets them at the token endpoint. */
  client?: { clientId: string; clientSecret: string };
}

/**
 * A refresh: `grant_type=refresh_token`, `refresh_token`, and the client's
 * credentials as the endpoint wants them (RFC 6749 §6).
 * @throws TypeError when a parameter is not a non-empty string (naming the parameter, never a value).
 */
export function refreshTokenRequest(endpoint: Endpoint, params: RefreshTokenParams): TokenRequest {
  const body = new URLSearchParams({ grant_type: 'refresh_token' });
  const headers = authenticate(endpoint, body, params.clientId, params.clientSecret);
  body.set('refresh_token', required(params.refreshToken, 'refreshToken'));
  return { url: endpoint.url, body, headers };
}

/**
 * A grant exchange: `grant_type=authorization_code`, the client's
 * credentials, `redirect_uri` (only when known), `code`, and `code_verifier`
 * (only with PKCE) (RFC 6749 §4.1.3, RFC 7636 §4.5).
 * @throws TypeError when a parameter is not a non-empty string (naming the parameter, never a value).
 */
export function authorizationCodeRequest(endpoint: Endpoint, params: AuthorizationCodeParams): TokenRequest {
  const body = new URLSearchParams({ grant_type: 'authorization_code' });
  const headers = authenticate(endpoint, body, params.clientId, params.clientSecret);
  if (params.redirectUri !== undefined && params.redirectUri !== null && params.redirectUri !== '') {
    body.set('redirect_uri', required(params.redirectUri, 'redirectUri'));
  }
  body.set('code', required(params.code, 'code'));
  if (params.codeVerifier !== undefined && params.codeVerifier !== null) body.set('code_verifier', required(params.codeVerifier, 'codeVerifier'));
  return { url: endpoint.url, body, headers };
}

/**
 * A revocation: `token` (and `token_type_hint` when given) in the body
 * (RFC 7009 §2.1; Zoho's documentation puts it in the query string, and Zoho
 * accepts the body as well), with the client's credentials when given.
 * @throws TypeError when the token is not a non-empty string.
 */
export function revokeRequest(endpoint: Endpoint, params: RevokeParams): TokenRequest {
  const body = new URLSearchParams();
  const headers = params.client ? authenticate(endpoint, body, params.client.clientId, params.client.clientSecret) : {};
  body.set('token', required(params.token, 'token'));
  if (params.tokenTypeHint) body.set('token_type_hint', params.tokenTypeHint);
  return { url: endpoint.url, body, headers };
}

/**
 * Adds the client's credentials: in the body (`client_secret_post`), or as
 * HTTP Basic (`client_secret_basic`), each part form-urlencoded first as
 * RFC 6749 §2.3.1 requires.
 */
function authenticate(endpoint: Endpoint, body: URLSearchParams, clientId: string, clientSecret: string): Record<string, string> {
  const id = required(clientId, 'clientId');
  const secret = required(clientSecret, 'clientSecret');
  if (endpoint.clientAuth === 'client_secret_post') {
    body.set('client_id', id);
    body.set('client_secret', secret);
    return {};
  }
  const basic = Buffer.from(`${formEncode(id)}:${formEncode(secret)}`, 'utf8').toString('base64');
  return { authorization: `Basic ${basic}` };
}

/** `application/x-www-form-urlencoded` encoding of one value (spaces as `+`). */
function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

function required(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new TypeError(`${name} must be a non-empty string`);
  return value;
}

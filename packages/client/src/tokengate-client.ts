import { TokengateError } from './errors.js';
import * as connect from './connect.js';
import type { ConnectStart, OAuthClient, OAuthClientInput, StartConnectInput } from './connect.js';
import type { Token, TokenBudget, TokenInput, TokenMatch, TokenPage, TokenStatus } from './types.js';

/**
 * Which secret fields the client asks for:
 * - `none`: none (any key, viewers included);
 * - `access`: the access token (operator and admin keys) — the default;
 * - `all`: also the refresh token, client secret and grant token (admin keys).
 * A key that may not read what is asked for gets `FORBIDDEN`.
 */
export type SecretFields = 'none' | 'access' | 'all';

export interface TokengateClientOptions {
  /** The gateway: `http://127.0.0.1:4000` (or its `/graphql` endpoint). */
  url: string;
  /** An API key (`TOKENGATE_API_KEYS`, or the generated `data/admin.key`). */
  apiKey: string;
  /** Secret fields to read ['access']. */
  secrets?: SecretFields;
  /** Timeout of one request in ms [30000]. */
  timeoutMs?: number;
  /** A `fetch` to use instead of the global one (called as a plain function, never as a method). */
  fetch?: typeof fetch;
}

const TOKEN_FIELDS =
  'id userName clientId redirectUrl apiDomain accountsUrl expiresAt status hasAccessToken hasRefreshToken hasGrantToken lastRefreshedAt lastError' +
  ' provider client throttled throttledUntil createdAt updatedAt budget { accessTokensLeft accessTokensPerWindow windowSeconds resetsAt nextAt }';
const SECRET_SELECTION: Record<SecretFields, string> = {
  none: '',
  access: ' accessToken',
  all: ' accessToken refreshToken clientSecret grantToken',
};

type RawBudget = Omit<TokenBudget, 'resetsAt' | 'nextAt'> & { resetsAt: string | null; nextAt: string | null };

interface RawToken extends Omit<Token, 'expiresAt' | 'lastRefreshedAt' | 'throttledUntil' | 'createdAt' | 'updatedAt' | 'budget'> {
  expiresAt: string | null;
  lastRefreshedAt: string | null;
  throttledUntil: string | null;
  createdAt: string;
  updatedAt: string;
  budget: RawBudget | null;
}

const date = (v: string | null): Date | null => (v === null ? null : new Date(v));
function toToken(raw: RawToken): Token {
  return {
    ...raw,
    status: raw.status as TokenStatus,
    expiresAt: date(raw.expiresAt),
    lastRefreshedAt: date(raw.lastRefreshedAt),
    throttledUntil: date(raw.throttledUntil),
    createdAt: new Date(raw.createdAt),
    updatedAt: new Date(raw.updatedAt),
    budget: raw.budget && { ...raw.budget, resetsAt: date(raw.budget.resetsAt), nextAt: date(raw.budget.nextAt) },
  };
}

/**
 * A typed client of the tokengate GraphQL API, for scripts and services.
 * Every method either resolves with the API's answer or rejects with a
 * {@link TokengateError} carrying the API's `extensions.code`.
 *
 * @example
 * const tg = new TokengateClient({ url: 'http://127.0.0.1:4000', apiKey: process.env.TOKENGATE_API_KEY! });
 * const accessToken = await tg.getAccessToken('42'); // refreshed first when it is about to expire
 */
export class TokengateClient {
  /** The GraphQL endpoint. */
  readonly endpoint: string;
  private readonly apiKey: string;
  private readonly selection: string;
  private readonly timeoutMs: number;
  private readonly fetchFn: typeof fetch;

  constructor(options: TokengateClientOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new TypeError('TokengateClient: url must be an absolute http(s) URL such as http://127.0.0.1:4000');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new TypeError('TokengateClient: url must be an absolute http(s) URL such as http://127.0.0.1:4000');
    if (!url.pathname.replace(/\/+$/, '').endsWith('/graphql')) url.pathname = `${url.pathname.replace(/\/+$/, '')}/graphql`;
    this.endpoint = url.toString();
    if (typeof options.apiKey !== 'string' || !/^[\x21-\x7e]+$/.test(options.apiKey)) {
      throw new TypeError('TokengateClient: apiKey must be a non-empty key of printable characters');
    }
    this.apiKey = options.apiKey;
    this.selection = TOKEN_FIELDS + SECRET_SELECTION[options.secrets ?? 'access'];
    this.timeoutMs = options.timeoutMs ?? 30_000;
    // Called as a plain function: a browser's fetch called as a method of
    // another object throws "Illegal invocation". The global one is looked up
    // at each call, so a fetch installed after the client was made is used.
    const custom = options.fetch;
    this.fetchFn = custom ? (input, init) => custom(input, init) : (input, init) => globalThis.fetch(input, init);
  }

  /** A token by id (`tokenById`), or by Zoho's lookup rules (`token(match)`). @returns null where none. */
  async getToken(idOrMatch: string | TokenMatch): Promise<Token | null> {
    if (typeof idOrMatch === 'string') {
      const data = await this.request<{ tokenById: RawToken | null }>(`query TokenById($id: ID!) { tokenById(id: $id) { ${this.selection} } }`, {
        id: idOrMatch,
      });
      return data.tokenById && toToken(data.tokenById);
    }
    const data = await this.request<{ token: RawToken | null }>(`query FindToken($match: TokenMatchInput!) { token(match: $match) { ${this.selection} } }`, {
      match: idOrMatch,
    });
    return data.token && toToken(data.token);
  }

  /** One page of tokens in a stable order (`first` 1..1000, default 100). */
  async listTokens(options: { first?: number; after?: string | null } = {}): Promise<TokenPage> {
    const data = await this.request<{ tokens: { nodes: RawToken[]; totalCount: number; endCursor: string | null; hasNextPage: boolean } }>(
      `query Tokens($first: Int, $after: String) { tokens(first: $first, after: $after) { nodes { ${this.selection} } totalCount endCursor hasNextPage } }`,
      { first: options.first ?? 100, after: options.after ?? null },
    );
    return { ...data.tokens, nodes: data.tokens.nodes.map(toToken) };
  }

  /** Every token, walking the pages. */
  async *allTokens(pageSize = 500): AsyncGenerator<Token> {
    let after: string | null = null;
    for (;;) {
      const page = await this.listTokens({ first: pageSize, after });
      yield* page.nodes;
      if (!page.hasNextPage) return;
      after = page.endCursor;
    }
  }

  /** Upserts a token (by id, else Zoho's lookup rules); never makes a duplicate. Needs an operator key. */
  async saveToken(input: TokenInput): Promise<Token> {
    const token: Record<string, unknown> = { ...input };
    if (input.expiresAt instanceof Date) token.expiresAt = input.expiresAt.toISOString();
    const data = await this.request<{ saveToken: RawToken }>(`mutation SaveToken($token: TokenInput!) { saveToken(token: $token) { ${this.selection} } }`, {
      token,
    });
    return toToken(data.saveToken);
  }

  /**
   * Gets a new access token from the provider. With `force: false` only when
   * the token is not `ACTIVE` (the cheap call to make before every CRM
   * request). Concurrent calls, from any number of clients, share one
   * upstream refresh. Needs an operator key.
   */
  async refresh(id: string, options: { force?: boolean } = {}): Promise<Token> {
    const data = await this.request<{ refresh: RawToken }>(
      `mutation Refresh($id: ID!, $force: Boolean) { refresh(id: $id, force: $force) { ${this.selection} } }`,
      {
        id,
        force: options.force ?? true,
      },
    );
    return toToken(data.refresh);
  }

  /**
   * A valid access token of a token: `refresh(id, { force: false })`, so it is
   * refreshed only when it has expired or is about to.
   * @throws TokengateError `NOT_FOUND`, `REFRESH_FAILED`, `UPSTREAM_UNAVAILABLE`, …
   */
  async getAccessToken(id: string): Promise<string> {
    const data = await this.request<{ refresh: { accessToken: string | null } }>(
      `mutation AccessToken($id: ID!) { refresh(id: $id, force: false) { accessToken } }`,
      { id },
    );
    if (!data.refresh.accessToken) throw new TokengateError('BAD_RESPONSE', 'the gateway answered without an access token');
    return data.refresh.accessToken;
  }

  /**
   * Issues a proxy credential: a short-lived bearer for `/api/{tokenId}/…`
   * bound to this token, these methods (HEAD goes with GET) and path
   * prefixes (whole segments), good for nothing else. Mint one per page load
   * in your backend and hand it to the browser. Needs an operator key.
   * @param options.ttlSeconds 1..3600
   */
  async issueProxyCredential(
    tokenId: string,
    options: { ttlSeconds: number; methods: string[]; pathPrefixes: string[] },
  ): Promise<{ credential: string; expiresAt: Date }> {
    const data = await this.request<{ issueProxyCredential: { credential: string; expiresAt: string } }>(
      `mutation IssueProxyCredential($tokenId: ID!, $ttlSeconds: Int!, $methods: [String!]!, $pathPrefixes: [String!]!) { issueProxyCredential(tokenId: $tokenId, ttlSeconds: $ttlSeconds, methods: $methods, pathPrefixes: $pathPrefixes) { credential expiresAt } }`,
      { tokenId, ttlSeconds: options.ttlSeconds, methods: options.methods, pathPrefixes: options.pathPrefixes },
    );
    return { credential: data.issueProxyCredential.credential, expiresAt: new Date(data.issueProxyCredential.expiresAt) };
  }

  /** Deletes a token. @returns false where there was none. Needs an operator key. */
  async deleteToken(id: string): Promise<boolean> {
    return (await this.request<{ deleteToken: boolean }>(`mutation DeleteToken($id: ID!) { deleteToken(id: $id) }`, { id })).deleteToken;
  }

  /** Deletes every token. @returns how many. Needs an admin key. */
  async deleteTokens(): Promise<number> {
    return (await this.request<{ deleteTokens: number }>(`mutation DeleteTokens { deleteTokens }`)).deleteTokens;
  }

  /** Revokes the token at the provider, then deletes it. @returns false where there was none. Needs an operator key. */
  async revokeToken(id: string): Promise<boolean> {
    return (await this.request<{ revokeToken: boolean }>(`mutation RevokeToken($id: ID!) { revokeToken(id: $id) }`, { id })).revokeToken;
  }

  /**
   * Starts connecting an account (the connect flow): the provider's consent
   * URL, to open in the person's browser; the gateway's callback stores the
   * token and sends the browser to `returnTo`. Needs an operator key.
   * @example
   * const { authorizationUrl } = await tg.startConnect({ client: 'crm', userName: 'ana@example.com', returnTo: 'https://app.example.com/settings' });
   */
  startConnect(input: StartConnectInput): Promise<ConnectStart> {
    return connect.startConnect(this.bound, input);
  }

  /** Registers an OAuth client for the connect flow, or replaces the one of that name. Needs an admin key. */
  saveClient(client: OAuthClientInput): Promise<OAuthClient> {
    return connect.saveClient(this.bound, client);
  }

  /** Every OAuth client of the connect flow, by name. */
  listClients(): Promise<OAuthClient[]> {
    return connect.listClients(this.bound);
  }

  /** An OAuth client by name (its secret with `{ secret: true }`, admin keys only). @returns null where none. */
  getClient(name: string, options: { secret?: boolean } = {}): Promise<OAuthClient | null> {
    return connect.getClient(this.bound, name, options);
  }

  /** Deletes an OAuth client; its tokens keep working. @returns false where none. Needs an admin key. */
  deleteClient(name: string): Promise<boolean> {
    return connect.deleteClient(this.bound, name);
  }

  private readonly bound: connect.GraphqlRequest = (query, variables) => this.request(query, variables);

  /**
   * Sends one GraphQL operation. Any error in the answer rejects the call
   * (a field the key may not read included), with the first error's code.
   */
  async request<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const where = this.endpoint.replace(/\/\/[^/@]*@/, '//');
    let res: Response;
    try {
      res = await this.fetchFn(this.endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${this.apiKey}` },
        body: JSON.stringify({ query, variables }),
        signal: AbortSignal.timeout(this.timeoutMs),
        redirect: 'error',
      });
    } catch (err) {
      const name = (err as Error)?.name;
      if (name === 'TimeoutError' || name === 'AbortError')
        throw new TokengateError('TIMEOUT', `tokengate at ${where} did not answer within ${this.timeoutMs} ms`, { cause: err });
      const code = ((err as { cause?: { code?: string } })?.cause?.code ?? '') || undefined;
      throw new TokengateError('NETWORK_ERROR', `cannot reach tokengate at ${where}${code ? ` (${code})` : ''}`, { cause: err });
    }
    const requestId = res.headers.get('x-request-id') ?? undefined;
    const text = await res.text().catch(() => '');
    let body: {
      data?: T | null;
      errors?: Array<{ message?: unknown; path?: Array<string | number>; extensions?: { code?: unknown; oauthError?: unknown; retryAfter?: unknown } }>;
    };
    try {
      body = JSON.parse(text);
    } catch {
      throw new TokengateError('BAD_RESPONSE', `tokengate at ${where} answered HTTP ${res.status} with a body that is not JSON`, {
        status: res.status,
        requestId,
      });
    }
    if (body && Array.isArray(body.errors) && body.errors.length > 0) {
      const errors = body.errors.map((e) => ({
        message: typeof e.message === 'string' ? e.message : 'unknown error',
        code: typeof e.extensions?.code === 'string' ? e.extensions.code : 'INTERNAL_SERVER_ERROR',
        ...(Array.isArray(e.path) ? { path: e.path } : {}),
      }));
      const first = body.errors[0]!;
      const oauthError = typeof first.extensions?.oauthError === 'string' ? first.extensions.oauthError : undefined;
      // The answer's Retry-After (STORE_UNAVAILABLE) wins; else the error's extensions.retryAfter (THROTTLED).
      const header = res.headers.get('retry-after') ?? '';
      const extension = first.extensions?.retryAfter;
      const retryAfter = /^\d{1,6}$/.test(header)
        ? Number(header)
        : typeof extension === 'number' && Number.isFinite(extension) && extension >= 0
          ? Math.ceil(extension)
          : undefined;
      throw new TokengateError(errors[0]!.code, errors[0]!.message, { oauthError, status: res.status, retryAfter, requestId, errors });
    }
    if (!res.ok || !body || body.data === undefined || body.data === null) {
      throw new TokengateError('BAD_RESPONSE', `tokengate at ${where} answered HTTP ${res.status} without data`, { status: res.status, requestId });
    }
    return body.data;
  }
}

/**
 * The connect flow's calls of `@tokengate/client` (`startConnect`, and the
 * OAuth clients an admin registers). Functions of a GraphQL `request` so that
 * they stand apart from the rest of the client; `TokengateClient` exposes
 * each as a method (`tg.startConnect(…)`).
 */

/** Sends one GraphQL operation (`TokengateClient.request`). */
export type GraphqlRequest = <T>(query: string, variables?: Record<string, unknown>) => Promise<T>;

/** An OAuth client registered at a provider (`Client` of the API). */
export interface OAuthClient {
  id: string;
  /** Unique, URL-safe: how `startConnect` names it. */
  name: string;
  /** `zoho`, or a registered generic provider. */
  provider: string;
  /** The client id at the provider. */
  clientId: string;
  /** The scopes a connect asks for when it names none. */
  scopes: string[];
  /** `{TOKENGATE_PUBLIC_URL}/oauth/callback`: register it at the provider. */
  redirectUrl: string;
  /** Zoho: the accounts server of the consent screen; null for a generic provider. */
  accountsUrl: string | null;
  createdAt: Date;
  updatedAt: Date;
  /** Only from `getClient(name, { secret: true })` with an admin key. */
  clientSecret?: string | null;
}

/** The input of `saveClient` (admin): registers a client, or replaces the one of that name. */
export interface OAuthClientInput {
  name: string;
  /** Default `zoho`. */
  provider?: string | null;
  clientId: string;
  /** Required for a new client; left out, a saved client keeps its secret. */
  clientSecret?: string | null;
  scopes?: string[] | null;
  /** Default (and the only value allowed): `{TOKENGATE_PUBLIC_URL}/oauth/callback`. */
  redirectUrl?: string | null;
  /** Zoho: default `TOKENGATE_ACCOUNTS_URL`. */
  accountsUrl?: string | null;
}

/** The input of `startConnect` (operator). */
export interface StartConnectInput {
  /** The OAuth client, by name. */
  client: string;
  /** The user the token is saved under (the token of that user name is updated); required unless `tokenId` is given. */
  userName?: string | null;
  /** Default: the client's scopes. */
  scopes?: string[] | null;
  /** Where the browser comes back with `?connect=ok&token=<id>` or `?connect=error&reason=<reason>`; an origin of `TOKENGATE_CONNECT_RETURN_ORIGINS`. Without it, the callback shows a small page. */
  returnTo?: string | null;
  /** Reconnect this token in place (a `FAILED` one, typically). */
  tokenId?: string | null;
  /** At the provider's refresh-token limit, replace the oldest instead of failing with `REFRESH_TOKEN_LIMIT`. */
  replaceOldest?: boolean | null;
}

/** A started connect. */
export interface ConnectStart {
  /** Send the person's browser here (the provider's consent screen). */
  authorizationUrl: string;
  /** The connect waits for the provider's callback until then (ten minutes by default). */
  expiresAt: Date;
}

/** Why a connect failed, as `returnTo?connect=error&reason=…` names it. */
export type ConnectFailureReason =
  'access_denied' | 'invalid_code' | 'provider_unavailable' | 'accounts_server_not_allowed' | 'refresh_token_limit' | 'internal';

const CLIENT_FIELDS = 'id name provider clientId scopes redirectUrl accountsUrl createdAt updatedAt';

type RawClient = Omit<OAuthClient, 'createdAt' | 'updatedAt'> & { createdAt: string; updatedAt: string };
const toClient = (raw: RawClient): OAuthClient => ({ ...raw, createdAt: new Date(raw.createdAt), updatedAt: new Date(raw.updatedAt) });

/**
 * Starts connecting an account: the URL of the provider's consent screen,
 * to open in the person's browser. Needs an operator key.
 * @throws TokengateError `BAD_USER_INPUT`, `NOT_FOUND` (client or token), `REFRESH_TOKEN_LIMIT`, …
 */
export async function startConnect(request: GraphqlRequest, input: StartConnectInput): Promise<ConnectStart> {
  const data = await request<{ startConnect: { authorizationUrl: string; expiresAt: string } }>(
    `mutation StartConnect($input: StartConnectInput!) { startConnect(input: $input) { authorizationUrl expiresAt } }`,
    { input },
  );
  return { authorizationUrl: data.startConnect.authorizationUrl, expiresAt: new Date(data.startConnect.expiresAt) };
}

/** Registers an OAuth client, or replaces the one of that name. Needs an admin key. */
export async function saveClient(request: GraphqlRequest, client: OAuthClientInput): Promise<OAuthClient> {
  const data = await request<{ saveClient: RawClient }>(`mutation SaveClient($client: ClientInput!) { saveClient(client: $client) { ${CLIENT_FIELDS} } }`, {
    client,
  });
  return toClient(data.saveClient);
}

/** Every OAuth client, by name (any key). */
export async function listClients(request: GraphqlRequest): Promise<OAuthClient[]> {
  const data = await request<{ clients: RawClient[] }>(`query Clients { clients { ${CLIENT_FIELDS} } }`);
  return data.clients.map(toClient);
}

/** An OAuth client by name, with its secret when asked (admin keys only). @returns null where none. */
export async function getClient(request: GraphqlRequest, name: string, options: { secret?: boolean } = {}): Promise<OAuthClient | null> {
  const data = await request<{ client: RawClient | null }>(
    `query Client($name: String!) { client(name: $name) { ${CLIENT_FIELDS}${options.secret ? ' clientSecret' : ''} } }`,
    { name },
  );
  return data.client && toClient(data.client);
}

/** Deletes an OAuth client (its tokens keep working). @returns false where none. Needs an admin key. */
export async function deleteClient(request: GraphqlRequest, name: string): Promise<boolean> {
  return (await request<{ deleteClient: boolean }>(`mutation DeleteClient($name: String!) { deleteClient(name: $name) }`, { name })).deleteClient;
}

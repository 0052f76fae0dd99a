/**
 * `@tokengate/client`: a typed client of the tokengate API for scripts,
 * services and browser apps. Depends on nothing but the global `fetch`
 * (Node 20+, browsers).
 *
 * ```ts
 * import { TokengateClient, isTokengateError } from '@tokengate/client';
 * const tg = new TokengateClient({ url: 'http://127.0.0.1:4000', apiKey: process.env.TOKENGATE_API_KEY! });
 * const accessToken = await tg.getAccessToken('42');
 * ```
 */
export { TokengateClient, type TokengateClientOptions, type SecretFields } from './tokengate-client.js';
export { TokengateError, isTokengateError, type TokengateErrorCode } from './errors.js';
export { createProxyFetch, gatewayError, type ProxyFetchOptions, type ProxyCredentialLike } from './proxy-fetch.js';
export {
  startConnect,
  saveClient,
  listClients,
  getClient,
  deleteClient,
  type ConnectStart,
  type ConnectFailureReason,
  type GraphqlRequest,
  type OAuthClient,
  type OAuthClientInput,
  type StartConnectInput,
} from './connect.js';
export type { Token, TokenBudget, TokenInput, TokenMatch, TokenPage, TokenStatus } from './types.js';

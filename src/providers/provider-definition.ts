/**
 * Checks what an admin registers as a provider (`saveProvider`, or an entry
 * of `TOKENGATE_PROVIDERS_FILE`). Pure; every message names the field, never
 * more of a value than a URL's origin.
 */
import { PROVIDER_NAME } from '../stores/token-rules';
import { CLIENT_AUTH_METHODS, type ClientAuthMethod } from '../oauth/token-requests';
import { LIMIT_FIELDS, ZOHO, type ProviderDefinition, type ProviderLimits } from './provider';

/** A provider definition that breaks a rule; its message is for the caller. */
export class ProviderDefinitionError extends Error {
  override readonly name = 'ProviderDefinitionError';
}

/** The largest value of a limit (a count or seconds): about 68 years of seconds, and fits every engine's int. */
const MAX_LIMIT = 2_147_483_647;

/**
 * A `ProviderInput` (GraphQL or JSON) as a checked definition. For `zoho`
 * only `limits` is taken. A limit left out keeps the profile's default; a
 * limit given as null means "no such limit".
 * @throws ProviderDefinitionError naming the field at fault.
 */
export function parseProviderDefinition(raw: unknown): ProviderDefinition {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ProviderDefinitionError('a provider must be an object');
  const input = raw as Record<string, unknown>;
  const known = new Set(['name', 'tokenUrl', 'authorizationUrl', 'revocationUrl', 'clientAuthMethod', 'pkce', 'limits']);
  for (const key of Object.keys(input)) if (!known.has(key)) throw new ProviderDefinitionError(`unknown field ${JSON.stringify(key.slice(0, 40))}`);
  const name = input.name;
  if (typeof name !== 'string' || !PROVIDER_NAME.test(name)) {
    throw new ProviderDefinitionError('name must be a lower-case letter, then lower-case letters, digits, _ or -, at most 64 characters');
  }
  const limits = parseLimits(input.limits);
  if (name === ZOHO) {
    return { name, tokenUrl: null, authorizationUrl: null, revocationUrl: null, clientAuthMethod: 'client_secret_post', pkce: false, limits };
  }
  const tokenUrl = endpointUrl(input.tokenUrl, 'tokenUrl');
  if (tokenUrl === null) throw new ProviderDefinitionError("tokenUrl is required (the provider's RFC 6749 token endpoint)");
  const method = input.clientAuthMethod ?? 'client_secret_basic';
  if (typeof method !== 'string' || !(CLIENT_AUTH_METHODS as readonly string[]).includes(method)) {
    throw new ProviderDefinitionError(`clientAuthMethod must be one of ${CLIENT_AUTH_METHODS.join(', ')}`);
  }
  const pkce = input.pkce ?? false;
  if (typeof pkce !== 'boolean') throw new ProviderDefinitionError('pkce must be true or false');
  return {
    name,
    tokenUrl,
    authorizationUrl: endpointUrl(input.authorizationUrl, 'authorizationUrl'),
    revocationUrl: endpointUrl(input.revocationUrl, 'revocationUrl'),
    clientAuthMethod: method as ClientAuthMethod,
    pkce,
    limits,
  };
}

function parseLimits(raw: unknown): Partial<ProviderLimits> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ProviderDefinitionError('limits must be an object');
  const input = raw as Record<string, unknown>;
  const out: Partial<ProviderLimits> = {};
  for (const key of Object.keys(input)) {
    if (!(LIMIT_FIELDS as readonly string[]).includes(key)) throw new ProviderDefinitionError(`limits: unknown field ${JSON.stringify(key.slice(0, 40))}`);
  }
  for (const field of LIMIT_FIELDS) {
    const v = input[field];
    if (v === undefined) continue;
    if (v !== null && (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_LIMIT)) {
      throw new ProviderDefinitionError(`limits.${field} must be a whole number of at least 1, or null for no limit`);
    }
    out[field] = v as number | null;
  }
  return out;
}

/**
 * An endpoint URL: absolute http(s), no credentials, no fragment. A query is
 * kept (some servers need one), the URL is normalized by the URL parser.
 * @returns null when absent.
 */
function endpointUrl(raw: unknown, field: string): string | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== 'string' || raw.length > 1024) throw new ProviderDefinitionError(`${field} must be an http(s) URL of at most 1024 characters`);
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new ProviderDefinitionError(`${field} must be an absolute http(s) URL such as https://idp.example.com/oauth/token`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new ProviderDefinitionError(`${field} must be an absolute http(s) URL such as https://idp.example.com/oauth/token`);
  if (url.username !== '' || url.password !== '') throw new ProviderDefinitionError(`${field} (${url.origin}) must not carry credentials`);
  if (url.hash !== '' || url.href.includes('#')) throw new ProviderDefinitionError(`${field} (${url.origin}) must not carry a fragment`);
  return url.href;
}

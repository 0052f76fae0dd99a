import type { ConnectConfig } from '../config';
import { badInput, notFound } from '../errors';
import type { AccountsUrlPolicy } from '../oauth/accounts-url-policy';
import { AccountsUrlNotAllowedError } from '../oauth/oauth-errors';
import type { ProviderRegistry } from '../providers/provider-registry';
import type { ClientStore, OAuthClient } from '../stores/client-store';
import { CLIENT_NAME, DEFAULT_PROVIDER, MAX_LENGTH } from '../stores/token-rules';

/** The `saveClient` input of the API. */
export interface ClientInputData {
  name: string;
  /** A registered provider; default `zoho`. */
  provider?: string | null;
  clientId: string;
  /** Required for a new client; left out, an existing client keeps its secret. */
  clientSecret?: string | null;
  /** The scopes a connect asks for when it names none. */
  scopes?: readonly string[] | null;
  /** Must be `{TOKENGATE_PUBLIC_URL}/oauth/callback` (the default). */
  redirectUrl?: string | null;
  /** Zoho: the accounts server of the consent screen (default `TOKENGATE_ACCOUNTS_URL`), on the allow-list. */
  accountsUrl?: string | null;
}

/** The callback path of the connect flow, below `TOKENGATE_PUBLIC_URL`. */
export const CALLBACK_PATH = '/oauth/callback';

/** At most this many scopes, each at most this long. */
const MAX_SCOPES = 100;
const MAX_SCOPE_LENGTH = 255;
/** RFC 6749 §3.3 scope-token characters, without the comma (Zoho separates scopes with commas). */
const SCOPE = /^[\x21\x23-\x2b\x2d-\x5b\x5d-\x7e]+$/;

/** The redirect URI every client must register at its provider. @throws `BAD_USER_INPUT` without `TOKENGATE_PUBLIC_URL`. */
export function callbackUrl(config: ConnectConfig): string {
  if (!config.publicUrl) throw badInput('the connect flow needs TOKENGATE_PUBLIC_URL (the external origin of the gateway, e.g. https://tokens.example.com)');
  return `${config.publicUrl}${CALLBACK_PATH}`;
}

/** Checks a list of scopes. @throws `BAD_USER_INPUT` naming what is wrong (never more than the scope's position). */
export function checkScopes(scopes: readonly unknown[], field = 'scopes'): string[] {
  if (scopes.length > MAX_SCOPES) throw badInput(`${field}: at most ${MAX_SCOPES} scopes`);
  scopes.forEach((s, i) => {
    if (typeof s !== 'string' || s.length === 0 || s.length > MAX_SCOPE_LENGTH || !SCOPE.test(s)) {
      throw badInput(
        `${field}[${i}] must be a scope of 1 to ${MAX_SCOPE_LENGTH} printable characters without spaces, commas, quotes or backslashes (e.g. ZohoCRM.modules.ALL)`,
      );
    }
  });
  return [...new Set(scopes as string[])];
}

function checkText(value: unknown, field: string, max: number): string {
  if (typeof value !== 'string' || value.trim() === '') throw badInput(`${field} is required`);
  if (value.length > max) throw badInput(`${field} is longer than ${max} characters`);
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f]/.test(value)) throw badInput(`${field} contains a control character`);
  return value;
}

/**
 * The OAuth clients of the connect flow (`saveClient`, `clients`, `client`,
 * `deleteClient`): checked here, stored by the `ClientStore` (the secret
 * encrypted). Knows nothing of GraphQL.
 */
export class ClientService {
  constructor(
    private readonly store: ClientStore,
    private readonly providers: ProviderRegistry,
    private readonly policy: AccountsUrlPolicy,
    private readonly config: ConnectConfig,
  ) {}

  listClients(): Promise<OAuthClient[]> {
    return this.store.listClients();
  }

  /** A client by name (or id). @returns null where none. */
  findClient(nameOrId: string): Promise<OAuthClient | null> {
    if (typeof nameOrId !== 'string' || nameOrId.length === 0 || nameOrId.length > 128) return Promise.resolve(null);
    return this.store.findClient(nameOrId);
  }

  /** Like {@link findClient}; @throws `NOT_FOUND` where none. */
  async requireClient(nameOrId: string): Promise<OAuthClient> {
    const client = await this.findClient(nameOrId);
    if (!client) throw notFound(`no OAuth client is named ${JSON.stringify(String(nameOrId).slice(0, 64))} (an admin registers one with saveClient)`);
    return client;
  }

  /**
   * Registers a client, or replaces the one of that name (left out, its
   * secret is kept). @throws `BAD_USER_INPUT` for anything invalid; nothing is stored then.
   */
  async saveClient(input: ClientInputData): Promise<OAuthClient> {
    const name = input.name;
    if (typeof name !== 'string' || !CLIENT_NAME.test(name))
      throw badInput('name must be 1 to 64 letters, digits, _ or -, starting with a letter or digit (it goes into URLs)');
    const providerName = input.provider ?? DEFAULT_PROVIDER;
    const profile = await this.providers.require(providerName);
    const clientId = checkText(input.clientId, 'clientId', MAX_LENGTH.clientId);
    const existing = await this.store.findClient(name);
    const sameName = existing && existing.name === name ? existing : null;
    let clientSecret: string;
    if (input.clientSecret === undefined || input.clientSecret === null) {
      if (!sameName) throw badInput('clientSecret is required for a new client');
      clientSecret = sameName.clientSecret;
    } else {
      clientSecret = checkText(input.clientSecret, 'clientSecret', MAX_LENGTH.secret);
    }
    const scopes = checkScopes(input.scopes ?? []);
    const expected = callbackUrl(this.config);
    if (input.redirectUrl !== undefined && input.redirectUrl !== null && input.redirectUrl !== expected) {
      throw badInput(`redirectUrl must be ${expected} (TOKENGATE_PUBLIC_URL + ${CALLBACK_PATH}), the URL registered at the provider`);
    }
    let accountsUrl: string | null = null;
    if (profile.usesAccountsUrl) {
      try {
        accountsUrl =
          input.accountsUrl === undefined || input.accountsUrl === null
            ? this.policy.defaultAccountsUrl
            : this.policy.resolve({ accountsUrl: input.accountsUrl });
      } catch (err) {
        if (err instanceof AccountsUrlNotAllowedError) throw badInput(`accountsUrl: ${err.message}`);
        throw err;
      }
    } else {
      if (input.accountsUrl !== undefined && input.accountsUrl !== null)
        throw badInput(`accountsUrl applies to Zoho clients only: the provider ${providerName} has its own endpoints`);
      if (profile.authorizationUrl(null) === null)
        throw badInput(`the provider ${providerName} has no authorizationUrl: register it with one (saveProvider) to connect accounts through it`);
    }
    const { client } = await this.store.saveClient({ name, provider: providerName, clientId, clientSecret, scopes, redirectUrl: expected, accountsUrl });
    return client;
  }

  /** Deletes a client; its tokens keep working and lose their `client`. @returns false where none. */
  deleteClient(name: string): Promise<boolean> {
    if (typeof name !== 'string' || !CLIENT_NAME.test(name)) return Promise.resolve(false);
    return this.store.deleteClient(name);
  }
}

/**
 * Where the OAuth clients an admin registered (`saveClient`) are kept, shared
 * by every gateway process on the database. A client's secret is encrypted
 * at rest like every token secret (SQL stores), and only ever returned
 * decrypted to the caller of these methods. Errors are `TokenStoreError`s,
 * as the token store's.
 */

/** A registered OAuth client: what the connect flow sends a person to the provider with. */
export interface OAuthClient {
  /** Opaque, generated when the client is first saved; kept when it is saved again. */
  id: string;
  /** Unique, URL-safe (`CLIENT_NAME`): how callers name it (`startConnect(client: "crm")`). */
  name: string;
  /** The provider profile (`zoho`, or a registered generic provider). */
  provider: string;
  /** The client id at the provider. */
  clientId: string;
  /** The client secret at the provider: a secret (never logged, admin-only in the API). */
  clientSecret: string;
  /** The scopes a connect asks for when it names none. */
  scopes: string[];
  /** The redirect URI registered at the provider: `{TOKENGATE_PUBLIC_URL}/oauth/callback`. */
  redirectUrl: string;
  /** Zoho: the accounts server whose consent screen a connect opens (the user's data center then comes from the callback); null for a generic provider. */
  accountsUrl: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** What `saveClient` writes: everything but what the store fills. */
export type OAuthClientInput = Omit<OAuthClient, 'id' | 'createdAt' | 'updatedAt'>;

export interface ClientStore {
  /** Every client, by name (`[]` when none). */
  listClients(): Promise<OAuthClient[]>;

  /** The client with this name, else the one with this id. @returns null when neither exists. */
  findClient(nameOrId: string): Promise<OAuthClient | null>;

  /**
   * Inserts the client, or replaces the one with its name (keeping its id and `createdAt`).
   * @returns the client as stored, and whether it was created.
   */
  saveClient(input: OAuthClientInput): Promise<{ client: OAuthClient; created: boolean }>;

  /**
   * Deletes a client and, in the same transaction, clears the `client` of the
   * tokens made through it (they keep their own client id and secret, and
   * keep refreshing). @returns false when there was none.
   */
  deleteClient(name: string): Promise<boolean>;

  /** Re-encrypts every client secret not under the current key (`tokengate keys rotate`). @returns how many. */
  reencryptClients(): Promise<number>;
}

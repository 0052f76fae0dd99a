import { FileStore, OAuthToken, UserSignature } from '@zohocrm/typescript-sdk-8.0';

/** A token as a test describes it for Zoho's SDK. */
export interface SdkTokenSpec {
  id?: string;
  user?: string;
  refresh?: string;
  access?: string;
  grant?: string;
  expiry?: string;
  secret?: string;
  clientId?: string;
  apiDomain?: string;
}

/** An SDK `OAuthToken` holding `t`. */
export function sdkToken(t: SdkTokenSpec): OAuthToken {
  const o = new OAuthToken(t.clientId ?? '1000.TSCLIENT', t.secret ?? 'tssecret', t.grant ?? null, t.refresh ?? null, 'https://app.example.com/cb', t.id ?? null, t.access ?? null, t.user ? new UserSignature(t.user) : null);
  if (t.expiry) o.setExpiresIn(t.expiry);
  if (t.apiDomain) o.setAPIDomain(t.apiDomain);
  return o;
}

/** Writes tokens with the real TypeScript SDK's FileStore. */
export async function writeWithTsSdk(file: string, tokens: SdkTokenSpec[]): Promise<void> {
  const store = new FileStore(file);
  for (const t of tokens) await store.saveToken(sdkToken(t));
}


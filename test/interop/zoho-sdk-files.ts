import mysql from 'mysql2/promise';
import { DBStore, FileStore, OAuthToken, UserSignature } from '@zohocrm/typescript-sdk-8.0';
import type { ScratchDatabase } from '../support/mysql';

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
  const o = new OAuthToken(
    t.clientId ?? '1000.TSCLIENT',
    t.secret ?? 'tssecret',
    t.grant ?? null,
    t.refresh ?? null,
    'https://app.example.com/cb',
    t.id ?? null,
    t.access ?? null,
    t.user ? new UserSignature(t.user) : null,
  );
  if (t.expiry) o.setExpiresIn(t.expiry);
  if (t.apiDomain) o.setAPIDomain(t.apiDomain);
  return o;
}

/** Writes tokens with the real TypeScript SDK's FileStore. */
export async function writeWithTsSdk(file: string, tokens: SdkTokenSpec[]): Promise<void> {
  const store = new FileStore(file);
  for (const t of tokens) await store.saveToken(sdkToken(t));
}

/** The spec's DDL of the SDK's table, and its older forms. */
export const DBSTORE_DDL = {
  ten: (t: string) =>
    `CREATE TABLE ${t} (id varchar(10) NOT NULL, user_name varchar(255), client_id varchar(255), client_secret varchar(255), refresh_token varchar(255), access_token varchar(255), grant_token varchar(255), expiry_time varchar(20), redirect_url varchar(255), api_domain varchar(255), primary key (id))`,
  nine: (t: string) =>
    `CREATE TABLE ${t} (id varchar(10) NOT NULL, user_mail varchar(255), client_id varchar(255), client_secret varchar(255), refresh_token varchar(255), access_token varchar(255), grant_token varchar(255), expiry_time varchar(20), redirect_url varchar(255), primary key (id))`,
  six: (t: string) =>
    `CREATE TABLE ${t} (user_mail varchar(255) NOT NULL, client_id varchar(255), refresh_token varchar(255), access_token varchar(255), grant_token varchar(255), expiry_time varchar(20), primary key (user_mail))`,
};

/** Fills a scratch database as Zoho's SDKs would have: the TS SDK's DBStore writes `oauthtoken`. */
export async function fillZohoDatabase(db: ScratchDatabase): Promise<void> {
  const conn = await mysql.createConnection({ uri: db.url });
  try {
    await conn.query(DBSTORE_DDL.ten('oauthtoken'));
    await conn.query(DBSTORE_DDL.nine('old_nine'));
    await conn.query(DBSTORE_DDL.six('old_six'));
    await conn.query(
      "INSERT INTO old_nine VALUES ('1','nine@example.com','1000.C9','s9','1000.r-nine',NULL,NULL,'1767225600000','https://app.example.com/cb'), ('2','nine2@example.com','1000.C9','s9','1000.r-nine2','1000.a-nine2',NULL,NULL,NULL)",
    );
    await conn.query("INSERT INTO old_six VALUES ('six@example.com','1000.C6','1000.r-six','1000.a-six',NULL,'1767225600000')");
  } finally {
    await conn.end();
  }
  const u = new URL(db.url);
  const sdkStore = new DBStore(u.hostname, db.name, 'oauthtoken', decodeURIComponent(u.username), decodeURIComponent(u.password), Number(u.port || 3306));
  await sdkStore.saveToken(
    sdkToken({
      user: 'db1@example.com',
      refresh: '1000.db-r1',
      access: '1000.db-a1',
      expiry: '1767225600000',
      secret: 'odd,"secret"',
      apiDomain: 'https://www.zohoapis.eu',
    }),
  );
  await sdkStore.saveToken(sdkToken({ user: 'db2@example.com', refresh: '1000.db-r2' }));
  await sdkStore.saveToken(sdkToken({ grant: '1000.db-grant3' }));
}

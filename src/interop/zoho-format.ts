/**
 * Zoho's own token formats (`shared/spec/token-store.md`, "Zoho's own
 * formats"): the columns of a `DBStore` table and of a `FileStore` CSV, their
 * variants across the SDKs, and the conversion of one row into a tokengate
 * `TokenInput`, with every check an import needs before it writes anything.
 *
 * No message built here contains a value of a row: messages name columns and
 * rows only, because most values are secrets.
 */
import type { TokenInput } from '../stores/token';
import { MAX_LENGTH } from '../stores/token-rules';

/** The columns of the 10-column form, in Zoho's order (the order of a `FileStore` CSV). */
export const ZOHO_COLUMNS = [
  'id',
  'user_name',
  'client_id',
  'client_secret',
  'refresh_token',
  'access_token',
  'grant_token',
  'expiry_time',
  'redirect_url',
  'api_domain',
] as const;
export type ZohoColumn = (typeof ZOHO_COLUMNS)[number];

/**
 * The header tokengate writes: the TypeScript SDK's `FileStore` header (the
 * spec's 10-column form). Every SDK reads a `FileStore` by position, so the
 * name of the second column does not matter to them.
 */
export const ZOHO_CSV_HEADER = 'id,user_mail,client_id,client_secret,refresh_token,access_token,grant_token,expiry_time,redirect_url,api_domain';

/** Other names of a column: older SDKs' `user_mail`, the Python SDK's `redirect_uri`. */
const ALIASES: Readonly<Record<string, ZohoColumn>> = {
  user_mail: 'user_name',
  redirect_uri: 'redirect_url',
};

/** The canonical column a header or table column name stands for, or null when it is not one of Zoho's. */
export function zohoColumnOf(name: string): ZohoColumn | null {
  const n = name.trim().toLowerCase();
  if ((ZOHO_COLUMNS as readonly string[]).includes(n)) return n as ZohoColumn;
  return ALIASES[n] ?? null;
}

/** Raw values of one row by canonical column; a column the source lacks is absent, an empty value is null. */
export type ZohoValues = Partial<Record<ZohoColumn, string | null>>;

/** One row of a Zoho source, before validation. */
export interface SourceRow {
  /** Where the row is, for messages: `line 4`, or `row 3 (id 17)`. */
  where: string;
  values: ZohoValues;
  /** A problem found while reading it (e.g. more fields than the header has). */
  problem?: string;
}

/** A source whose header or table lacks what every variant has; nothing can be imported from it. */
export class ZohoFormatError extends Error {
  override readonly name = 'ZohoFormatError';
}

/**
 * Checks the column set of a source (a CSV header or a table's columns) and
 * maps each position to its canonical column (null: a column to ignore).
 * @param strict refuse names that are not Zoho's (a CSV, where a header-less
 *   file would otherwise be read as a header), instead of ignoring them (a table).
 * @throws ZohoFormatError naming positions, never the names of a CSV's unknown
 *   columns (a data line taken for a header holds secrets).
 */
export function mapColumns(names: readonly string[], what: string, strict: boolean): Array<ZohoColumn | null> {
  const mapped = names.map(zohoColumnOf);
  if (strict) {
    const unknown = mapped.flatMap((c, i) => (c === null ? [i + 1] : []));
    if (unknown.length > 0) {
      throw new ZohoFormatError(
        `${what} is not a Zoho token header: column${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} ${unknown.length > 1 ? 'are' : 'is'} not a Zoho column ` +
          `(expected a header such as ${ZOHO_CSV_HEADER})`,
      );
    }
  }
  const seen = new Set<ZohoColumn>();
  for (const c of mapped) {
    if (c === null) continue;
    if (seen.has(c)) throw new ZohoFormatError(`${what} names the column ${c} twice`);
    seen.add(c);
  }
  if (!seen.has('refresh_token') && !seen.has('access_token') && !seen.has('grant_token')) {
    throw new ZohoFormatError(`${what} has no refresh_token, access_token or grant_token column: it is not a Zoho token ${strict ? 'file' : 'table'}`);
  }
  return mapped;
}

/** The largest instant a store accepts (9999-12-31T23:59:59.999Z), in epoch ms. */
const MAX_INSTANT_MS = 253402300799999;

/**
 * Reads Zoho's `expiry_time`: epoch milliseconds as a string (some SDKs
 * write a fraction, which is rounded). @returns null when it is not one.
 */
export function parseExpiryTime(raw: string): Date | null {
  const v = raw.trim();
  if (!/^\d{1,16}(\.\d+)?$/.test(v)) return null;
  const ms = Math.round(Number(v));
  if (!Number.isFinite(ms) || ms > MAX_INSTANT_MS) return null;
  return new Date(ms);
}

/** Zoho's `expiry_time` of an instant: epoch milliseconds as a string. */
export function formatExpiryTime(at: Date | null): string | null {
  return at === null ? null : String(at.getTime());
}

/** The tokengate field of each column, and the longest value it takes. */
const FIELD_OF: Record<Exclude<ZohoColumn, 'id' | 'expiry_time'>, { field: Exclude<keyof TokenInput, 'id' | 'expiresAt'>; max: number }> = {
  user_name: { field: 'userName', max: MAX_LENGTH.userName },
  client_id: { field: 'clientId', max: MAX_LENGTH.clientId },
  client_secret: { field: 'clientSecret', max: MAX_LENGTH.secret },
  refresh_token: { field: 'refreshToken', max: MAX_LENGTH.secret },
  access_token: { field: 'accessToken', max: MAX_LENGTH.secret },
  grant_token: { field: 'grantToken', max: MAX_LENGTH.secret },
  redirect_url: { field: 'redirectUrl', max: MAX_LENGTH.redirectUrl },
  api_domain: { field: 'apiDomain', max: MAX_LENGTH.apiDomain },
};

/** Ids as the stores take them: printable ASCII without spaces. */
const ID_PATTERN = /^[\x21-\x7e]+$/;

/** A row turned into a `TokenInput`, or the reasons it cannot be. */
export type RowConversion = { ok: true; input: TokenInput } | { ok: false; problems: string[] };

/**
 * Converts one row into the input of `TokenStore.saveToken`: each column the
 * source has becomes a field (an empty value is null, which clears the field
 * on an update); a column the source lacks stays absent (kept on an update).
 * Zoho's id is kept as the token's id.
 */
export function rowToInput(values: ZohoValues): RowConversion {
  const problems: string[] = [];
  const input: TokenInput = {};
  const value = (c: ZohoColumn): string | null | undefined => {
    const v = values[c];
    return v === undefined ? undefined : v === null || v === '' ? null : v;
  };

  const id = value('id');
  if (id !== undefined && id !== null) {
    if (id.length > MAX_LENGTH.id || !ID_PATTERN.test(id)) problems.push(`id must be 1 to ${MAX_LENGTH.id} printable ASCII characters without spaces`);
    else input.id = id;
  }
  for (const [column, { field, max }] of Object.entries(FIELD_OF) as Array<[keyof typeof FIELD_OF, (typeof FIELD_OF)[keyof typeof FIELD_OF]]>) {
    const v = value(column);
    if (v === undefined) continue;
    if (v !== null && v.length > max) problems.push(`${column} is longer than ${max} characters`);
    else if (v !== null && v.includes('\u0000')) problems.push(`${column} contains a NUL character`);
    else (input as Record<string, unknown>)[field] = v;
  }
  const expiry = value('expiry_time');
  if (expiry !== undefined) {
    if (expiry === null) input.expiresAt = null;
    else {
      const at = parseExpiryTime(expiry);
      if (at === null) problems.push('expiry_time is not a time in epoch milliseconds');
      else input.expiresAt = at;
    }
  }
  if (!value('access_token') && !value('refresh_token') && !value('grant_token')) {
    problems.push('holds no access_token, refresh_token or grant_token');
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, input };
}

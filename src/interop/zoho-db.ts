/**
 * Zoho's `DBStore` table (MySQL/MariaDB; database `zohooauth`, table
 * `oauthtoken` by default): read with `SELECT *` and mapped by column name,
 * so every variant reads alike — `user_name` or the older `user_mail`, the
 * 10-column table, the 9-column one without `api_domain`, and the 6-column
 * `user_mail,client_id,refresh_token,access_token,grant_token,expiry_time`.
 * Other columns a team added are ignored.
 */
import mysql from 'mysql2';
import { mapColumns, ZohoFormatError, type SourceRow, type ZohoColumn, type ZohoValues } from './zoho-format';

/** A table name as the SDK's `DBBuilder` takes it, optionally `database.table`. */
const TABLE_PATTERN = /^([A-Za-z_][A-Za-z0-9_$]{0,63}\.)?[A-Za-z_][A-Za-z0-9_$]{0,63}$/;

/** `database`.`table`, quoted for MySQL. @throws ZohoFormatError for anything but plain names. */
export function quoteTableName(table: string): string {
  if (!TABLE_PATTERN.test(table)) throw new ZohoFormatError('--table must be a plain table name (letters, digits, _ and $; optionally database.table)');
  return table
    .split('.')
    .map((p) => `\`${p}\``)
    .join('.');
}

/** `host:port/database` of a MySQL URL, for messages: never the user or the password. */
export function describeMysqlUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 3306}${u.pathname}`;
  } catch {
    return 'the given URL';
  }
}

function checkUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ZohoFormatError('--url must look like mysql://user:password@host:3306/zohooauth');
  }
  if ((u.protocol !== 'mysql:' && u.protocol !== 'mariadb:') || !u.hostname || u.pathname.length <= 1) {
    throw new ZohoFormatError('--url must look like mysql://user:password@host:3306/zohooauth');
  }
}

/** A MySQL error as one line that quotes no value (driver messages may quote SQL or values). */
function describeDbError(err: unknown, url: string, table: string): ZohoFormatError {
  const code = (err as { code?: string }).code ?? '';
  const where = describeMysqlUrl(url);
  switch (code) {
    case 'ER_NO_SUCH_TABLE':
      return new ZohoFormatError(`the table ${table} does not exist in ${where}`);
    case 'ER_BAD_DB_ERROR':
      return new ZohoFormatError(`the database of ${where} does not exist`);
    case 'ER_ACCESS_DENIED_ERROR':
    case 'ER_DBACCESS_DENIED_ERROR':
    case 'ER_TABLEACCESS_DENIED_ERROR':
      return new ZohoFormatError(`the MySQL server at ${where} refused the user of --url (${code})`);
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
      return new ZohoFormatError(`cannot reach the MySQL server at ${where} (${code})`);
    default:
      return new ZohoFormatError(`reading ${table} from ${where} failed${code ? ` (${code})` : ''}`);
  }
}

/** A value as the driver returns it, as text (`expiry_time` may be a number column in a hand-made table). */
function text(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (v instanceof Date) return String(v.getTime());
  return String(v);
}

/**
 * Reads a Zoho `DBStore` table row by row (streamed: a large table is never
 * held twice). Each row is `row N (id X)` in messages.
 * @param url `mysql://user:password@host:port/database`
 * @throws ZohoFormatError when the server, database or table cannot be read or the table lacks Zoho's columns.
 */
export async function* readZohoDbTable(url: string, table = 'oauthtoken'): AsyncGenerator<SourceRow> {
  checkUrl(url);
  const quoted = quoteTableName(table);
  const conn = mysql.createConnection({
    uri: url,
    connectTimeout: 5000,
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    charset: 'utf8mb4',
  });
  let completed = false;
  conn.on('error', () => undefined); // surfaced through the query stream
  try {
    // Connect first: a query queued on a connection that never opens would wait for ever.
    await new Promise<void>((resolve, reject) => conn.connect((err) => (err ? reject(describeDbError(err, url, table)) : resolve())));
    const query = conn.query({ sql: `SELECT * FROM ${quoted}`, rowsAsArray: true });
    let columns: Array<ZohoColumn | null> | null = null;
    query.on('fields', (fields: Array<{ name: string }>) => {
      try {
        columns = mapColumns(
          fields.map((f) => f.name),
          `the table ${table}`,
          false,
        );
      } catch (err) {
        stream.destroy(err as Error);
      }
    });
    const stream = query.stream({ highWaterMark: 500 });
    let n = 0;
    try {
      for await (const raw of stream as AsyncIterable<unknown[]>) {
        n += 1;
        const values: ZohoValues = {};
        columns!.forEach((c, i) => {
          if (c !== null) values[c] = text(raw[i]);
        });
        const id = values.id;
        yield { where: `row ${n}${id ? ` (id ${/^[\x21-\x7e]{1,64}$/.test(id) ? id : '?'})` : ''}`, values };
      }
      completed = true;
    } catch (err) {
      if (err instanceof ZohoFormatError) throw err;
      throw describeDbError(err, url, table);
    }
  } finally {
    // After a failure or when the reader stopped early, drop the connection; else close it politely.
    if (!completed) conn.destroy();
    else await new Promise<void>((resolve) => conn.end(() => resolve()));
  }
}

import fs from 'node:fs';
import path from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import type { Pool as CallbackPool } from 'mysql2';
import { DataSource } from 'typeorm';
import type { Keyring } from '../crypto/keyring';
import type { Config } from '../config';
import { KeyMismatchError, TokenStoreError } from '../errors';
import { tokenEntityFor } from '../entities/oauth-token.entity';
import { memoryStores } from './memory/memory-stores';
import { auditLogMigration } from './sql/migrations/audit-log';
import { tokenTableMigrations } from './sql/migrations/token-table';
import { providerTablesMigration } from './sql/migrations/providers';
import { clientsTableOf, connectTablesMigration } from './sql/migrations/connect';
import { MysqlExecutor } from './sql/mysql-executor';
import { quoteIdent, type SqlDialect } from './sql/sql-dialect';
import type { SqlExecutor } from './sql/sql-executor';
import { sqlStores } from './sql/sql-stores';
import { SqliteExecutor } from './sql/sqlite-executor';
import { ThreadedSqliteExecutor } from './sql/sqlite-writer';
import type { Stores } from './stores';

/** What opening a store needs: the parts of `Config` it reads. */
export type StoreOptions =
  { kind: 'memory' } | { kind: 'sqlite'; path: string; table?: string } | { kind: 'mysql'; url: string; table: string; poolSize?: number };

/** The store options of a configuration. */
export function storeOptionsOf(config: Config): StoreOptions {
  switch (config.store) {
    case 'memory':
      return { kind: 'memory' };
    case 'sqlite':
      return { kind: 'sqlite', path: config.sqlitePath };
    case 'mysql':
      return { kind: 'mysql', url: config.mysqlUrl!, table: config.mysqlTable, poolSize: config.mysqlPoolSize };
  }
}

/** The table of the SQLite store (one database per gateway, so not configurable). */
export const SQLITE_TABLE = 'oauthtoken';

/** How long a SQLite connection waits for another process's write lock instead of failing at once (ms). */
const SQLITE_BUSY_TIMEOUT_MS = 5000;

/** The TypeORM DataSource of a SQL store: entity, migrations, connection options. */
export function createDataSource(options: Exclude<StoreOptions, { kind: 'memory' }>): DataSource {
  const table = options.kind === 'mysql' ? options.table : (options.table ?? SQLITE_TABLE);
  const common = {
    entities: [tokenEntityFor(table)],
    migrations: [
      ...tokenTableMigrations(options.kind, table),
      auditLogMigration(options.kind, table),
      providerTablesMigration(options.kind, table),
      connectTablesMigration(options.kind, table),
    ],
    migrationsTableName: `${table}_migrations`,
    synchronize: false,
    logging: false,
  };
  if (options.kind === 'sqlite') {
    return new DataSource({
      ...common,
      type: 'better-sqlite3',
      database: options.path,
      enableWAL: options.path !== ':memory:',
      timeout: SQLITE_BUSY_TIMEOUT_MS,
      prepareDatabase: (db: BetterSqlite3.Database) => {
        // Durable commits: a rotated refresh token must survive a power cut.
        db.pragma('synchronous = FULL');
        db.pragma('foreign_keys = ON');
        // 16 MB of page cache: the indexes' inner pages of a large table stay cached (lookups at
        // 100,000 tokens take as long as at 10,000) without a full walk growing the process by 64 MB.
        db.pragma('cache_size = -16384');
      },
    });
  }
  return new DataSource({
    ...common,
    type: 'mysql',
    url: options.url,
    poolSize: options.poolSize ?? 16,
    timezone: 'Z',
    charset: 'utf8mb4_bin',
    connectTimeout: MYSQL_CONNECT_TIMEOUT_S * 1000,
    extra: { enableKeepAlive: true, maxIdle: options.poolSize ?? 16, idleTimeout: 60_000 },
  });
}

/**
 * Opens the configured stores: connects, runs pending migrations (in one
 * transaction), and checks that the stored secrets belong to the configured
 * keys — a wrong key stops the start with a clear error instead of returning
 * garbage later.
 */
export async function openStore(options: StoreOptions, keyring: Keyring): Promise<Stores> {
  if (options.kind === 'memory') return memoryStores();
  if (options.kind === 'sqlite' && options.path !== ':memory:') fs.mkdirSync(path.dirname(options.path), { recursive: true, mode: 0o700 });
  const table = options.kind === 'mysql' ? options.table : (options.table ?? SQLITE_TABLE);
  const ds = createDataSource(options);
  try {
    await ds.initialize();
  } catch (err) {
    throw new TokenStoreError('open', 'UNAVAILABLE', openFailure(options, err), { cause: err });
  }
  try {
    await ds.runMigrations({ transaction: 'all' });
    const exec = executorFor(options, ds);
    await assertKeysMatch(exec, options.kind, table, keyring);
    return sqlStores(exec, keyring, table, () => ds.destroy());
  } catch (err) {
    await ds.destroy().catch(() => undefined);
    if (err instanceof TokenStoreError) throw err;
    if (err instanceof KeyMismatchError) throw new TokenStoreError('open', 'INTERNAL', err.message, { cause: err });
    const code = (err as { code?: unknown })?.code;
    throw new TokenStoreError('open', 'INTERNAL', `cannot prepare the ${options.kind} database${typeof code === 'string' ? ` (${code})` : ''}`, { cause: err });
  }
}

/** Seconds mysql2 waits for a connection's handshake (`connectTimeout` above). */
const MYSQL_CONNECT_TIMEOUT_S = 3;

/**
 * One line saying why a database could not be opened: for MySQL/MariaDB the
 * cause by the driver's code (access denied, no such database, refused,
 * host not found, timed out), naming the user, host, port and database of
 * the URL — never its password, never the driver's message.
 */
export function openFailure(options: Exclude<StoreOptions, { kind: 'memory' }>, err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  if (options.kind === 'sqlite') {
    if (typeof code === 'string') return `cannot open the sqlite database ${options.path} (${code})`;
    // better-sqlite3 loads a native module that `npm ci` builds for this Node version.
    if (/bindings file|NODE_MODULE_VERSION|better_sqlite3\.node/.test(String((err as Error)?.message))) {
      return 'cannot load better-sqlite3 (its native module is missing or built for another Node version: run npm rebuild better-sqlite3)';
    }
    return `cannot open the sqlite database ${options.path}`;
  }
  let user = '';
  let host = '';
  let port = '3306';
  let database = '';
  try {
    const u = new URL(options.url);
    user = decodeURIComponent(u.username);
    host = u.hostname;
    port = u.port || '3306';
    database = decodeURIComponent(u.pathname.slice(1));
  } catch {
    // the configuration checked the URL; keep the generic line
  }
  const at = `${host}:${port}`;
  const reason = ((): string => {
    switch (code) {
      case 'ER_BAD_DB_ERROR':
        return `database ${database} does not exist on ${at} (create it first: CREATE DATABASE \`${database}\`)`;
      case 'ER_ACCESS_DENIED_ERROR':
      case 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR':
        return `access denied for user ${user || '(none)'} at ${at} (check the user name and password of TOKENGATE_MYSQL_URL)`;
      case 'ER_DBACCESS_DENIED_ERROR':
        return `access denied for user ${user || '(none)'} to database ${database} at ${at} (GRANT it the database)`;
      case 'ER_HOST_NOT_PRIVILEGED':
      case 'ER_HOST_IS_BLOCKED':
        return `the server at ${at} refuses connections from this host (${code})`;
      case 'ECONNREFUSED':
        return `connection refused at ${at} (is the server running and listening there?)`;
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
      case 'EAI_NONAME':
        return `host not found: ${host}`;
      case 'ETIMEDOUT':
        return `timed out connecting to ${at} (no answer within ${MYSQL_CONNECT_TIMEOUT_S} s)`;
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
        return `host ${host} is unreachable (${code})`;
      case 'ECONNRESET':
      case 'PROTOCOL_CONNECTION_LOST':
        return `the connection to ${at} was closed during the handshake (is it a MySQL/MariaDB server?)`;
      default:
        return `database ${database} at ${at} failed${typeof code === 'string' ? ` (${code})` : ''}`;
    }
  })();
  return `cannot open the mysql database: ${reason}`;
}

function executorFor(options: Exclude<StoreOptions, { kind: 'memory' }>, ds: DataSource): SqlExecutor {
  if (options.kind === 'sqlite') {
    const db = (ds.driver as unknown as { databaseConnection: BetterSqlite3.Database }).databaseConnection;
    // A file: writes on a thread of their own (their fsyncs off the event loop). In memory, one connection is all there is.
    return options.path === ':memory:' ? new SqliteExecutor(db) : new ThreadedSqliteExecutor(db, options.path, SQLITE_BUSY_TIMEOUT_MS);
  }
  return new MysqlExecutor((ds.driver as unknown as { pool: CallbackPool }).pool.promise());
}

/** Refuses to start when any stored secret was encrypted with a key that is not configured. */
async function assertKeysMatch(exec: SqlExecutor, dialect: SqlDialect, table: string, keyring: Keyring): Promise<void> {
  const ids = keyring.keyIds;
  const rows = await exec.all<{ key_id: string }>(
    `SELECT key_id FROM ${quoteIdent(dialect, table)} WHERE key_id IS NOT NULL AND key_id NOT IN (${ids.map(() => '?').join(', ')}) LIMIT 1`,
    ids,
  );
  if (!rows[0]) {
    const clients = await exec.all<{ key_id: string }>(
      `SELECT key_id FROM ${quoteIdent(dialect, clientsTableOf(table))} WHERE key_id NOT IN (${ids.map(() => '?').join(', ')}) LIMIT 1`,
      ids,
    );
    if (clients[0]) {
      throw new KeyMismatchError(
        `the stored OAuth clients' secrets were encrypted with key ${clients[0].key_id}, but the configured encryption key is ${ids.join(', ')}: ` +
          'list the key they were written with after the new one until tokengate keys rotate has finished',
      );
    }
  }
  if (rows[0]) {
    throw new KeyMismatchError(
      `the stored tokens were encrypted with key ${rows[0].key_id}, but the configured encryption key is ${ids.join(', ')}: ` +
        "set TOKENGATE_ENCRYPTION_KEY (or the data directory's encryption.key) to the key they were written with" +
        ' (while rotating keys, list the old key after the new one until tokengate keys rotate has finished)',
    );
  }
}

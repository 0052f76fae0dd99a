import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { startTcpProxy, type TcpProxy } from './tcp-proxy';

/** The MariaDB every machine here runs (DEVELOPERS.md); override with TOKENGATE_TEST_MYSQL_URL. */
export const MYSQL_ADMIN_URL = process.env.TOKENGATE_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

/** Set by `.ci/run`: an unreachable MariaDB is then a failure, never a silent skip. */
export const MYSQL_REQUIRED = process.env.TOKENGATE_REQUIRE_MYSQL === '1';

let available: Promise<boolean> | null = null;

/** Whether MariaDB answers. Throws when it does not and `TOKENGATE_REQUIRE_MYSQL=1`. */
export async function mysqlAvailable(): Promise<boolean> {
  available ??= (async () => {
    try {
      const conn = await mysql.createConnection({ uri: MYSQL_ADMIN_URL, connectTimeout: 3000 });
      await conn.query('SELECT 1');
      await conn.end();
      return true;
    } catch (err) {
      if (MYSQL_REQUIRED)
        throw new Error(`TOKENGATE_REQUIRE_MYSQL=1 but MariaDB does not answer at ${MYSQL_ADMIN_URL}: ${(err as Error).message}`, { cause: err });
      return false;
    }
  })();
  return available;
}

/** A database of its own for one test file: created now, dropped by `drop()`. */
export interface ScratchDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

export async function createScratchDatabase(prefix = 'tg_test'): Promise<ScratchDatabase> {
  const name = `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = await mysql.createConnection({ uri: MYSQL_ADMIN_URL });
  await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  await admin.end();
  const url = new URL(MYSQL_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    async drop() {
      const conn = await mysql.createConnection({ uri: MYSQL_ADMIN_URL });
      await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await conn.end();
    },
  };
}

/** `describe` where MariaDB answered in the global setup, else `describe.skip` (never silent: the setup printed why). */
export const describeWithMysql = (name: string, fn: () => void): void => (process.env.TOKENGATE_MYSQL_AVAILABLE === '0' ? describe.skip : describe)(name, fn);

/**
 * A scratch database reached through a real TCP forwarder, so that a test can
 * take the database away (`proxy`) while a gateway uses `url`.
 */
export async function createScratchDatabaseBehindProxy(prefix: string): Promise<{ db: ScratchDatabase; proxy: TcpProxy; url: string }> {
  const db = await createScratchDatabase(prefix);
  const admin = new URL(MYSQL_ADMIN_URL);
  const proxy = await startTcpProxy({ host: admin.hostname, port: Number(admin.port || 3306) });
  const url = new URL(db.url);
  url.port = String(proxy.port);
  return { db, proxy, url: url.toString() };
}

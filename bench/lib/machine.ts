/** The machine a run measured: recorded beside the figures. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import { MYSQL_ADMIN_URL } from '../../test/support/mysql';
import { loadAverage } from './proc';

export interface Machine {
  cores: number;
  cpuModel: string;
  memoryGb: number;
  os: string;
  node: string;
  sqlite: string;
  mariadb: string | null;
  loadAverageAtStart: number;
  /** The commit measured, and whether src/ differed from it (the gateway is built from the working tree). */
  git: { commit: string | null; srcModified: boolean | null };
}

function gitState(root: string): Machine['git'] {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const status = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root, encoding: 'utf8' }).trim();
    return { commit, srcModified: status.length > 0 };
  } catch {
    return { commit: null, srcModified: null };
  }
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1]!.trim();
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

/**
 * The pid of the MariaDB server the benchmarks use (from its `@@pid_file`),
 * when it runs on this machine; null otherwise. Other MariaDB servers on the
 * machine (tests start their own) are not counted.
 */
export async function mariadbPid(): Promise<number | null> {
  try {
    const conn = await mysql.createConnection({ uri: MYSQL_ADMIN_URL, connectTimeout: 3000 });
    try {
      const [rows] = await conn.query('SELECT @@pid_file AS f');
      const file = (rows as Array<{ f: string }>)[0]!.f;
      const pid = Number(fs.readFileSync(file, 'utf8').trim());
      return Number.isInteger(pid) && fs.existsSync(`/proc/${pid}/stat`) ? pid : null;
    } finally {
      await conn.end();
    }
  } catch {
    return null;
  }
}

export async function describeMachine(root: string): Promise<Machine> {
  const db = new Database(':memory:');
  const sqlite = (db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
  db.close();
  let mariadb: string | null;
  try {
    const conn = await mysql.createConnection({ uri: MYSQL_ADMIN_URL, connectTimeout: 3000 });
    const [rows] = await conn.query('SELECT VERSION() AS v');
    mariadb = (rows as Array<{ v: string }>)[0]!.v;
    await conn.end();
  } catch {
    mariadb = null;
  }
  return {
    cores: os.cpus().length,
    cpuModel: cpuModel(),
    memoryGb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    sqlite,
    mariadb,
    loadAverageAtStart: loadAverage(),
    git: gitState(root),
  };
}

/**
 * A gateway that cannot open its MariaDB store says why, in one line on
 * stderr, and exits 1: each cause is produced for real (a database that does
 * not exist on the real server, a wrong password for a user created here, a
 * closed port, a host name that cannot resolve, a server that never answers),
 * and no line ever holds the password.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { describeWithMysql, MYSQL_ADMIN_URL } from './support/mysql';
import { freePort } from './support/process-gateway';
import { startSilentServer } from './support/tcp-proxy';

const MAIN = path.resolve(__dirname, '../dist/main.js');
const PASSWORD = `pw-${randomBytes(8).toString('hex')}`;

/** Runs `node dist/main.js` against `url` until it exits. */
function start(url: string, cwd: string): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN], {
      cwd,
      env: { PATH: process.env.PATH ?? '', TOKENGATE_STORE: 'mysql', TOKENGATE_MYSQL_URL: url, TOKENGATE_PORT: '0', TOKENGATE_LOG_LEVEL: 'trace' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describeWithMysql('a gateway that cannot open its MariaDB store', () => {
  const admin = new URL(MYSQL_ADMIN_URL);
  const host = admin.hostname;
  const port = Number(admin.port || 3306);
  const user = `tg_prod_${randomBytes(4).toString('hex')}`;
  let cwd: string;
  let conn: mysql.Connection;

  beforeAll(async () => {
    cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'tokengate-start-'));
    conn = await mysql.createConnection({ uri: MYSQL_ADMIN_URL });
    await conn.query(`CREATE USER '${user}'@'%' IDENTIFIED BY '${PASSWORD}'`);
  });
  afterAll(async () => {
    await conn?.query(`DROP USER IF EXISTS '${user}'@'%'`);
    await conn?.end();
    fs.rmSync(cwd, { recursive: true, force: true });
  });

  const expectOneLine = (r: { code: number | null; stderr: string; stdout: string }, cause: RegExp) => {
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^tokengate: cannot start: /);
    expect(lines[0]).toMatch(cause);
    // The log's fatal line says the same; nothing anywhere holds the password.
    expect(r.stdout).toMatch(cause);
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
  };

  it('names a database that does not exist', async () => {
    const db = `tg_prod_missing_${randomBytes(3).toString('hex')}`;
    expectOneLine(await start(`mysql://root@${host}:${port}/${db}`, cwd), new RegExp(`database ${db} does not exist on ${host}:${port}`));
  });

  it('names the user whose password was refused', async () => {
    expectOneLine(await start(`mysql://${user}:${PASSWORD}-wrong@${host}:${port}/test`, cwd), new RegExp(`access denied for user ${user} at ${host}:${port}`));
  });

  it('says the connection was refused, at which host and port', async () => {
    const closed = await freePort();
    expectOneLine(await start(`mysql://${user}:${PASSWORD}@127.0.0.1:${closed}/test`, cwd), new RegExp(`connection refused at 127\\.0\\.0\\.1:${closed}`));
  });

  it('says the host was not found', async () => {
    expectOneLine(await start(`mysql://${user}:${PASSWORD}@nonexistent.invalid:3306/test`, cwd), /host not found: nonexistent\.invalid/);
  });

  it('says it timed out when the server never answers', async () => {
    const silent = await startSilentServer();
    try {
      expectOneLine(
        await start(`mysql://${user}:${PASSWORD}@127.0.0.1:${silent.port}/test`, cwd),
        new RegExp(`timed out connecting to 127\\.0\\.0\\.1:${silent.port}`),
      );
    } finally {
      await silent.close();
    }
  });
});

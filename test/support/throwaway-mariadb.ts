/**
 * A MariaDB server of a test's own: a fresh data directory under the system
 * temp dir, its own port on 127.0.0.1, root without a password. Unlike the
 * shared server at 127.0.0.1:3306 (`./mysql.ts`), a test may stop, kill,
 * freeze and restart it.
 *
 * Nothing is left behind: `destroy()` kills the server and removes the
 * directory; a process `exit` handler does the same for every instance still
 * alive; and a watchdog shell process kills the server (and removes its
 * directory) when the test process dies without running either (SIGKILL, a
 * jest worker torn down).
 *
 * The binaries are found on this machine (Debian's mariadb-server):
 * `/usr/sbin/mariadbd` and `mariadb-install-db`, or where
 * `TOKENGATE_MARIADBD` and `TOKENGATE_MARIADB_INSTALL_DB` say.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { occurrences, untilLogged } from './log-watch';

const execFileAsync = promisify(execFile);

const MARIADBD = process.env.TOKENGATE_MARIADBD ?? '/usr/sbin/mariadbd';
const INSTALL_DB = process.env.TOKENGATE_MARIADB_INSTALL_DB ?? 'mariadb-install-db';
/** What the server logs once it listens. */
const READY = 'ready for connections';

/** A running (or stopped) throwaway MariaDB server. */
export interface ThrowawayMariaDb {
  /** Its TCP port on 127.0.0.1: the same across `stop()`/`start()`. */
  readonly port: number;
  /** Its directory (data, socket, pid and error log). */
  readonly dir: string;
  /** The server process id, or null while it is stopped. */
  readonly pid: number | null;
  /** `mysql://root@127.0.0.1:<port>/<database>`. */
  url(database: string): string;
  /** Creates a database (utf8mb4) and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** A new connection (root), to `database` when given. The caller ends it. */
  connect(database?: string): Promise<mysql.Connection>;
  /** SIGTERM (a clean shutdown), and waits for the exit. */
  stop(): Promise<void>;
  /** SIGKILL (a crash), and waits for the exit. */
  kill(): Promise<void>;
  /** SIGSTOP: the server keeps its sockets but answers nothing. */
  freeze(): void;
  /** SIGCONT after `freeze()`. */
  thaw(): void;
  /** Starts the server again on the same directory and port, and waits until it answers. */
  start(): Promise<void>;
  /** Kills the server and removes its directory. Idempotent. */
  destroy(): Promise<void>;
  /** The server's error log so far (for failure messages). */
  log(): string;
}

export interface ThrowawayMariaDbOptions {
  /** Extra `mariadbd` options, e.g. `--innodb-flush-log-at-trx-commit=2` where durability does not matter. */
  extraArgs?: string[];
  /** How long `start()` waits for the server to answer [60 s]. */
  startTimeoutMs?: number;
}

/** Every instance not yet destroyed, for the exit handler. */
const live = new Set<{ child: ChildProcess | null; watchdog: ChildProcess | null; dir: string }>();
let exitHandlerInstalled = false;

function installExitHandler(): void {
  if (exitHandlerInstalled) return;
  exitHandlerInstalled = true;
  process.on('exit', () => {
    for (const inst of live) {
      try {
        if (inst.child?.pid && inst.child.exitCode === null) process.kill(inst.child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      try {
        if (inst.watchdog?.pid) process.kill(inst.watchdog.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      try {
        fs.rmSync(inst.dir, { recursive: true, force: true });
      } catch {
        // best effort
      }
    }
  });
}

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Initializes a data directory and starts a server on it; resolves once it
 * answers a query. Call `destroy()` in `afterAll`.
 */
export async function startThrowawayMariaDb(options: ThrowawayMariaDbOptions = {}): Promise<ThrowawayMariaDb> {
  installExitHandler();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tokengate-mariadb-'));
  const dataDir = path.join(dir, 'data');
  const errorLog = path.join(dir, 'error.log');
  const inst: { child: ChildProcess | null; watchdog: ChildProcess | null; dir: string } = { child: null, watchdog: null, dir };
  live.add(inst);

  try {
    await execFileAsync(
      INSTALL_DB,
      ['--no-defaults', `--datadir=${dataDir}`, '--auth-root-authentication-method=normal', '--skip-test-db', '--skip-name-resolve', '--user=root'],
      { timeout: 60_000 },
    );
  } catch (err) {
    live.delete(inst);
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`mariadb-install-db failed (is mariadb-server installed?): ${(err as Error).message}`, { cause: err });
  }

  let port = await freePort();
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  let exited: Promise<number | null> = Promise.resolve(null);
  let output = '';

  const args = () => [
    '--no-defaults',
    `--datadir=${dataDir}`,
    `--port=${port}`,
    '--bind-address=127.0.0.1',
    `--socket=${path.join(dir, 'mysqld.sock')}`,
    `--pid-file=${path.join(dir, 'mysqld.pid')}`,
    `--log-error=${errorLog}`,
    '--user=root',
    '--skip-name-resolve',
    '--skip-log-bin',
    '--performance-schema=OFF',
    '--innodb-buffer-pool-size=64M',
    '--max-connections=300',
    ...(options.extraArgs ?? []),
  ];

  const log = () => {
    let text = output;
    try {
      text += fs.readFileSync(errorLog, 'utf8');
    } catch {
      // not written yet
    }
    return text.split('\n').slice(-40).join('\n');
  };

  const url = (database: string) => `mysql://root@127.0.0.1:${port}/${database}`;

  const answers = async (): Promise<boolean> => {
    try {
      const conn = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root', connectTimeout: 1000 });
      await conn.query('SELECT 1');
      await conn.end();
      return true;
    } catch {
      return false;
    }
  };

  const stopWatchdog = () => {
    if (inst.watchdog?.pid) {
      try {
        process.kill(inst.watchdog.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    inst.watchdog = null;
  };

  const start = async (): Promise<void> => {
    if (inst.child && inst.child.exitCode === null && inst.child.signalCode === null) throw new Error('the throwaway MariaDB is already running');
    const readyBefore = occurrences(errorLog, READY);
    const child = spawn(MARIADBD, args(), { stdio: ['ignore', 'pipe', 'pipe'] });
    inst.child = child;
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    // Kills the server (and removes the directory) if this test process dies first.
    const watchdog = spawn(
      'sh',
      [
        '-c',
        'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done; ' +
          'if ! kill -0 "$1" 2>/dev/null; then kill -9 "$2" 2>/dev/null; sleep 1; rm -rf "$3"; fi',
        'tokengate-mariadb-watchdog',
        String(process.pid),
        String(child.pid),
        dir,
      ],
      { stdio: 'ignore', detached: true },
    );
    watchdog.unref();
    inst.watchdog = watchdog;
    // Ready once it logs so (it listens by then); whether it answers is asked after, so that a
    // server of someone else's on the port does not pass for it.
    try {
      await untilLogged(errorLog, READY, readyBefore, { timeoutMs: startTimeoutMs, gone: exited, what: log });
    } catch (err) {
      if (/exited before/.test((err as Error).message)) throw new Error(`the throwaway MariaDB exited while starting:\n${log()}`, { cause: err });
      child.kill('SIGKILL');
      throw new Error(`the throwaway MariaDB did not answer in ${startTimeoutMs} ms:\n${log()}`, { cause: err });
    }
    if (!(await answers())) {
      child.kill('SIGKILL');
      throw new Error(`the throwaway MariaDB logged that it is ready but does not answer:\n${log()}`);
    }
  };

  const waitExit = async (signal: NodeJS.Signals, timeoutMs: number): Promise<void> => {
    const child = inst.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    if (signal !== 'SIGKILL') child.kill('SIGCONT'); // a frozen server cannot shut down
    child.kill(signal);
    const abort = new AbortController();
    const timer = sleep(timeoutMs, 'timeout' as const, { signal: abort.signal }).catch(() => 'aborted' as const);
    const first = await Promise.race([exited, timer]);
    abort.abort();
    if (first === 'timeout') {
      child.kill('SIGKILL');
      await exited;
    }
    stopWatchdog();
  };

  // The port was free a moment ago; should another process have taken it since, take another one.
  for (let attempt = 1; ; attempt++) {
    try {
      await start();
      break;
    } catch (err) {
      if (attempt >= 3 || !/exited while starting/.test((err as Error).message)) {
        await waitExit('SIGKILL', 10_000);
        stopWatchdog();
        live.delete(inst);
        fs.rmSync(dir, { recursive: true, force: true });
        throw err;
      }
      port = await freePort();
    }
  }

  let destroyed = false;
  return {
    get port() {
      return port;
    },
    dir,
    get pid() {
      const c = inst.child;
      return c && c.exitCode === null && c.signalCode === null ? (c.pid ?? null) : null;
    },
    url,
    async createDatabase(name) {
      const conn = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' });
      await conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
      await conn.end();
      return url(name);
    },
    connect(database) {
      return mysql.createConnection({ host: '127.0.0.1', port, user: 'root', ...(database ? { database } : {}) });
    },
    stop: () => waitExit('SIGTERM', 60_000),
    kill: () => waitExit('SIGKILL', 10_000),
    freeze() {
      inst.child?.kill('SIGSTOP');
    },
    thaw() {
      inst.child?.kill('SIGCONT');
    },
    start,
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      await waitExit('SIGKILL', 10_000);
      stopWatchdog();
      live.delete(inst);
      fs.rmSync(dir, { recursive: true, force: true });
    },
    log,
  };
}

/**
 * A MariaDB Galera cluster of a test's own, on loopback: three nodes (by
 * default), each with its own data directory under the system temp dir and
 * its own ports (client, group communication, IST, SST), replicating through
 * Debian's `galera-4` (`/usr/lib/galera/libgalera_smm.so`) with
 * `wsrep_sst_method=rsync`. Nodes run as the `mysql` user when this process
 * is root; root has no password on every node.
 *
 * The cluster is configured as Galera needs it (`binlog_format=ROW`, InnoDB,
 * `innodb_autoinc_lock_mode=2`), reads are causal (`wsrep_sync_wait=1`: a
 * read on one node sees what another node committed before it), and a dead
 * node is evicted after about 2 s (shorter `evs` timeouts than the default
 * 5-15 s; on loopback nothing is lost by it).
 *
 * The first node bootstraps the cluster on a fresh data directory; the
 * others start from copies of it and catch up by IST (incremental state
 * transfer from the first node's gcache), which is much quicker than a full
 * SST on a busy machine. A node that is killed rejoins as a crashed node does
 * under systemd: its last committed position is recovered
 * (`--wsrep-recover`) and it catches up by IST; an SST (rsync) happens only
 * when IST is not possible.
 *
 * Nothing is left behind: `destroy()` kills every node's process group (the
 * server and any SST script it started) and removes the directory; a process
 * `exit` handler does the same; and a watchdog shell does it when the test
 * process dies without either.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { occurrences, untilLogged, untilTrue } from './log-watch';
import { freePort } from './throwaway-mariadb';

const execFileAsync = promisify(execFile);

const MARIADBD = process.env.TOKENGATE_MARIADBD ?? '/usr/sbin/mariadbd';
/** What a node logs once it is synchronized with the group. */
const SYNCED = 'Synchronized with group, ready for connections';
const INSTALL_DB = process.env.TOKENGATE_MARIADB_INSTALL_DB ?? 'mariadb-install-db';
export const GALERA_PROVIDER = process.env.TOKENGATE_GALERA_PROVIDER ?? '/usr/lib/galera/libgalera_smm.so';

/** Why a Galera cluster cannot be started on this machine, or null when it can. */
export function galeraMissing(): string | null {
  if (!fs.existsSync(GALERA_PROVIDER)) return `${GALERA_PROVIDER} is missing (apt-get install galera-4)`;
  if (!fs.existsSync(MARIADBD)) return `${MARIADBD} is missing (apt-get install mariadb-server)`;
  const onPath = (bin: string) => (process.env.PATH ?? '').split(':').some((d) => d && fs.existsSync(path.join(d, bin)));
  if (!onPath('rsync')) return 'rsync is missing (apt-get install rsync)';
  if (!onPath('wsrep_sst_rsync')) return 'wsrep_sst_rsync is missing (apt-get install mariadb-server)';
  return null;
}

/** One node of the cluster. */
export interface GaleraNode {
  /** `node1`, `node2`, … */
  readonly name: string;
  /** Its client port on 127.0.0.1 (the same across `kill()`/`start()`). */
  readonly port: number;
  readonly dir: string;
  /** The server process id, or null while it is down. */
  readonly pid: number | null;
  /** `mysql://root@127.0.0.1:<port>/<database>`. */
  url(database: string): string;
  /** A new connection (root), to `database` when given. The caller ends it. */
  connect(database?: string): Promise<mysql.Connection>;
  /** SIGKILL to the node's process group (a crash), and waits for the exit. */
  kill(): Promise<void>;
  /** Starts a killed node again; resolves once it has rejoined and is `Synced`. */
  start(): Promise<void>;
  /** `wsrep_%` status variables (empty when the node does not answer). */
  wsrep(): Promise<Record<string, string>>;
  /** The node's error log so far (for failure messages). */
  log(): string;
}

export interface GaleraCluster {
  readonly nodes: readonly GaleraNode[];
  /** Creates a database (utf8mb4) through the first running node; returns its URL on every node, in node order. */
  createDatabase(name: string): Promise<string[]>;
  /** Resolves once every running node is `Synced` in a primary component of `size` nodes. */
  waitForSize(size: number, timeoutMs?: number): Promise<void>;
  /** Kills every node and removes the directory. Idempotent. */
  destroy(): Promise<void>;
}

export interface GaleraClusterOptions {
  /** How many nodes [3]. */
  size?: number;
  /** Extra `mariadbd` options for every node. */
  extraArgs?: string[];
  /** How long a node may take to start or rejoin [120 s]. */
  startTimeoutMs?: number;
}

interface Proc {
  child: ChildProcess | null;
}

/** Every cluster not yet destroyed, for the exit handler. */
const live = new Set<{ dir: string; procs: Proc[] }>();
let exitHandlerInstalled = false;

function killGroup(child: ChildProcess | null, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

function installExitHandler(): void {
  if (exitHandlerInstalled) return;
  exitHandlerInstalled = true;
  process.on('exit', () => {
    for (const c of live) {
      for (const p of c.procs) killGroup(p.child);
      try {
        fs.rmSync(c.dir, { recursive: true, force: true });
      } catch {
        // best effort
      }
    }
  });
}

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Starts the cluster; resolves once every node is `Synced`. */
export async function startGaleraCluster(options: GaleraClusterOptions = {}): Promise<GaleraCluster> {
  const missing = galeraMissing();
  if (missing) throw new Error(`cannot start a Galera cluster: ${missing}`);
  installExitHandler();
  const size = options.size ?? 3;
  const startTimeoutMs = options.startTimeoutMs ?? 120_000;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tokengate-galera-'));
  // The nodes run as `mysql`: they must reach their directories.
  fs.chmodSync(dir, 0o755);
  const procs: Proc[] = Array.from({ length: size }, () => ({ child: null }));
  const cluster = { dir, procs };
  live.add(cluster);

  // Kills every node's process group and removes the directory if this test process dies first.
  const watchdog = spawn(
    'sh',
    [
      '-c',
      'while kill -0 "$1" 2>/dev/null; do sleep 1; done; ' +
        'for f in "$2"/node*/group; do [ -f "$f" ] && kill -9 -- "-$(cat "$f")" 2>/dev/null; done; sleep 1; rm -rf "$2"',
      'tokengate-galera-watchdog',
      String(process.pid),
      dir,
    ],
    { stdio: 'ignore', detached: true },
  );
  watchdog.unref();

  const ports = [];
  for (let i = 0; i < size; i++) ports.push({ client: await freePort(), group: await freePort(), ist: await freePort(), sst: await freePort() });
  const clusterAddress = `gcomm://${ports.map((p) => `127.0.0.1:${p.group}`).join(',')}`;

  const nodes = ports.map((p, i) => makeNode(i, p));

  function makeNode(i: number, p: { client: number; group: number; ist: number; sst: number }) {
    const name = `node${i + 1}`;
    const nodeDir = path.join(dir, name);
    const dataDir = path.join(nodeDir, 'data');
    const errorLog = path.join(nodeDir, 'error.log');
    const proc = procs[i]!;
    let output = '';
    let exited: Promise<void> = Promise.resolve();

    const args = (extra: string[], providerExtra: string[] = []) => [
      '--no-defaults',
      `--datadir=${dataDir}`,
      `--port=${p.client}`,
      '--bind-address=127.0.0.1',
      `--socket=${path.join(nodeDir, 'mysqld.sock')}`,
      `--pid-file=${path.join(nodeDir, 'mysqld.pid')}`,
      `--log-error=${errorLog}`,
      ...(asRoot ? ['--user=mysql'] : []),
      '--skip-name-resolve',
      '--performance-schema=OFF',
      '--innodb-buffer-pool-size=64M',
      '--innodb-log-file-size=16M',
      '--innodb-flush-log-at-trx-commit=2',
      '--max-connections=300',
      // What Galera needs.
      '--binlog-format=ROW',
      '--default-storage-engine=InnoDB',
      '--innodb-autoinc-lock-mode=2',
      '--wsrep-on=ON',
      `--wsrep-provider=${GALERA_PROVIDER}`,
      '--wsrep-cluster-name=tokengate-test',
      `--wsrep-cluster-address=${clusterAddress}`,
      `--wsrep-node-name=${name}`,
      `--wsrep-node-address=127.0.0.1:${p.group}`,
      '--wsrep-sst-method=rsync',
      `--wsrep-sst-receive-address=127.0.0.1:${p.sst}`,
      '--wsrep-sync-wait=1',
      `--wsrep-provider-options=${[
        `ist.recv_addr=127.0.0.1:${p.ist}`,
        'gcache.size=32M',
        'evs.keepalive_period=PT0.3S',
        'evs.inactive_check_period=PT0.5S',
        'evs.suspect_timeout=PT2S',
        'evs.inactive_timeout=PT4S',
        'evs.install_timeout=PT3S',
        ...providerExtra,
      ].join(';')}`,
      ...(options.extraArgs ?? []),
      ...extra,
    ];

    const log = () => {
      let text = output;
      try {
        text += fs.readFileSync(errorLog, 'utf8');
      } catch {
        // not written yet
      }
      return text.split('\n').slice(-60).join('\n');
    };

    const url = (database: string) => `mysql://root@127.0.0.1:${p.client}/${database}`;
    const connect = (database?: string) =>
      mysql.createConnection({ host: '127.0.0.1', port: p.client, user: 'root', connectTimeout: 2000, ...(database ? { database } : {}) });

    const wsrep = async (): Promise<Record<string, string>> => {
      let conn: mysql.Connection | undefined;
      try {
        conn = await connect();
        const [rows] = await conn.query("SHOW STATUS LIKE 'wsrep\\_%'");
        return Object.fromEntries((rows as Array<{ Variable_name: string; Value: string }>).map((r) => [r.Variable_name, r.Value]));
      } catch {
        return {};
      } finally {
        await conn?.end().catch(() => undefined);
      }
    };

    /** How many times the log said the node is synchronized when it was last started. */
    let syncedBefore = 0;
    const running = () => proc.child !== null && proc.child.exitCode === null && proc.child.signalCode === null;

    const spawnServer = (extra: string[], providerExtra: string[] = []) => {
      if (running()) throw new Error(`${name} is already running`);
      // Its own process group: a kill reaches the SST scripts it starts too.
      syncedBefore = occurrences(errorLog, SYNCED);
      const child = spawn(MARIADBD, args(extra, providerExtra), { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      proc.child = child;
      fs.writeFileSync(path.join(nodeDir, 'group'), String(child.pid));
      child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
      exited = new Promise((resolve) => child.once('exit', () => resolve()));
    };

    const waitSynced = async (what: string) => {
      // The node logs when it is synchronized with the group; its status says so too, a moment later at most.
      try {
        await untilLogged(errorLog, SYNCED, syncedBefore, { timeoutMs: startTimeoutMs, gone: exited, what: log });
        await untilTrue(
          async () => {
            const s = await wsrep();
            return s.wsrep_local_state_comment === 'Synced' && s.wsrep_ready === 'ON';
          },
          startTimeoutMs,
          () => new Error('its status never said Synced'),
        );
      } catch (err) {
        if (!running()) throw new Error(`${name} exited while ${what}:\n${log()}`, { cause: err });
        killGroup(proc.child);
        throw new Error(`${name} was not Synced ${startTimeoutMs} ms after ${what} (${(err as Error).message.split('\n')[0]}):\n${log()}`, { cause: err });
      }
    };

    /** The last committed position of a node that did not shut down cleanly (as Debian's `galera_recovery`). */
    const recoveredPosition = async (): Promise<string | null> => {
      const recoverLog = path.join(nodeDir, 'recover.log');
      fs.rmSync(recoverLog, { force: true });
      const recoverArgs = args(['--wsrep-recover']).map((a) => (a.startsWith('--log-error=') ? `--log-error=${recoverLog}` : a));
      await execFileAsync(MARIADBD, recoverArgs, { timeout: 60_000 }).catch(() => undefined);
      const text = fs.existsSync(recoverLog) ? fs.readFileSync(recoverLog, 'utf8') : '';
      return /WSREP: Recovered position: ([0-9a-f-]{36}:-?\d+)/.exec(text)?.[1] ?? null;
    };

    const node: GaleraNode & {
      dataDir: string;
      create(from?: string): Promise<void>;
      spawn(extra: string[], providerExtra?: string[]): void;
      waitSynced(what: string): Promise<void>;
      shutdown(): Promise<void>;
    } = {
      name,
      port: p.client,
      dir: nodeDir,
      get pid() {
        return running() ? (proc.child!.pid ?? null) : null;
      },
      url,
      connect,
      wsrep,
      log,
      /** Creates the data directory: a fresh one (the first node), or a copy of `from`'s (cleanly stopped). */
      async create(from?: string) {
        fs.mkdirSync(nodeDir);
        if (asRoot) {
          const { uid, gid } = await mysqlUser();
          fs.chownSync(nodeDir, uid, gid);
        }
        if (from) {
          await execFileAsync('cp', ['-a', from, dataDir]);
          return;
        }
        try {
          await execFileAsync(
            INSTALL_DB,
            [
              '--no-defaults',
              `--datadir=${dataDir}`,
              '--auth-root-authentication-method=normal',
              '--skip-test-db',
              '--skip-name-resolve',
              ...(asRoot ? ['--user=mysql'] : []),
            ],
            { timeout: 60_000 },
          );
        } catch (err) {
          throw new Error(`mariadb-install-db failed for ${name}: ${(err as Error).message}`, { cause: err });
        }
      },
      dataDir,
      spawn: spawnServer,
      waitSynced,
      /** SIGTERM (a clean shutdown, which records the node's position), and waits for the exit. */
      async shutdown() {
        if (!running()) return;
        proc.child!.kill('SIGTERM');
        await exited;
        fs.rmSync(path.join(nodeDir, 'group'), { force: true });
      },
      async kill() {
        if (!running()) return;
        killGroup(proc.child);
        await exited;
        fs.rmSync(path.join(nodeDir, 'group'), { force: true });
      },
      async start() {
        const position = await recoveredPosition();
        spawnServer(position ? [`--wsrep-start-position=${position}`] : []);
        await waitSynced('rejoining the cluster');
      },
    };
    return node;
  }

  let destroyed = false;
  const destroy = async () => {
    if (destroyed) return;
    destroyed = true;
    await Promise.all(nodes.map((n) => n.kill()));
    try {
      process.kill(watchdog.pid!, 'SIGKILL');
    } catch {
      // gone
    }
    live.delete(cluster);
    fs.rmSync(dir, { recursive: true, force: true });
  };

  try {
    // The first node bootstraps the cluster on a fresh data directory and stops cleanly; the others start
    // from copies of it, so that they join with the same state and need no state transfer (SST).
    const [first, ...others] = nodes;
    // The first node bootstraps a cluster on a fresh data directory and stops cleanly; the others get copies.
    await first!.create();
    first!.spawn(['--wsrep-new-cluster']);
    await first!.waitSynced('bootstrapping the cluster');
    await first!.shutdown();
    await Promise.all(others.map((n) => n.create(first!.dataDir)));
    // The first node bootstraps the cluster again; the others join it at the position they have (a short IST).
    first!.spawn(['--wsrep-new-cluster']);
    await first!.waitSynced('bootstrapping the cluster');
    for (const n of others) n.spawn([]);
    await Promise.all(others.map((n) => n.waitSynced('joining the cluster')));
  } catch (err) {
    await destroy();
    throw err;
  }

  const waitForSize = (n: number, timeoutMs = 30_000) =>
    waitFor(
      async () => {
        const states = await Promise.all(nodes.filter((x) => x.pid !== null).map((x) => x.wsrep()));
        return (
          states.length > 0 &&
          states.every((s) => s.wsrep_cluster_size === String(n) && s.wsrep_cluster_status === 'Primary' && s.wsrep_local_state_comment === 'Synced')
        );
      },
      timeoutMs,
      `the cluster to settle at ${n} nodes`,
    );

  return {
    nodes,
    waitForSize,
    async createDatabase(name) {
      const first = nodes.find((n) => n.pid !== null);
      if (!first) throw new Error('no node is running');
      const conn = await first.connect();
      try {
        await conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
      } finally {
        await conn.end();
      }
      return nodes.map((n) => n.url(name));
    },
    destroy,
  };
}

/** Asks `check` again each turn (every check is a round trip to the nodes) until it holds; throws after `timeoutMs`. */
function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  return untilTrue(check, timeoutMs, () => new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
}

let mysqlIds: Promise<{ uid: number; gid: number }> | null = null;

/** The uid and gid of the `mysql` user (Debian's mariadb-server creates it). */
function mysqlUser(): Promise<{ uid: number; gid: number }> {
  mysqlIds ??= (async () => {
    const line = fs
      .readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('mysql:'));
    if (!line) throw new Error('there is no mysql user (apt-get install mariadb-server)');
    const [, , uid, gid] = line.split(':');
    return { uid: Number(uid), gid: Number(gid) };
  })();
  return mysqlIds;
}

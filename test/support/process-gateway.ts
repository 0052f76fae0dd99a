import fs from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';

const MAIN = path.resolve(__dirname, '../../dist/main.js');
/** Tells this process over IPC when the gateway's server listens. */
// Beside this file in test/support/; when this file runs compiled into dist-bench/test/support/ (the bench), in the source tree's test/support/.
const ANNOUNCE = [path.join(__dirname, 'announce-listening.cjs'), path.resolve(__dirname, '../../../test/support/announce-listening.cjs')].find((f) =>
  fs.existsSync(f),
)!;

/** A gateway in a process of its own (`node dist/main.js`, built by `npm test`). */
export interface GatewayProcess {
  url: string;
  pid: number;
  child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves once `check(output())` holds, tested on each write; rejects when the process exits first or after `timeoutMs`. */
  untilOutput(check: (output: string) => boolean, timeoutMs?: number): Promise<void>;
  /** SIGTERM, and wait for the exit. @returns the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: a crash, no clean-up. */
  kill(): Promise<void>;
}

/** A port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts `node dist/main.js` with `env` on a free port and resolves once its
 * server listens (it says so over IPC, whatever its log level) and `/healthz`
 * answers. Rejects with its output when it exits first or does not come up in time.
 */
export async function spawnGateway(env: Record<string, string>, options: { cwd?: string; timeoutMs?: number } = {}): Promise<GatewayProcess> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const port = env.TOKENGATE_PORT && env.TOKENGATE_PORT !== '0' ? Number(env.TOKENGATE_PORT) : await freePort();
  const child = spawn(process.execPath, ['--require', ANNOUNCE, MAIN], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '', TOKENGATE_LOG_LEVEL: 'info', ...env, TOKENGATE_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let out = '';
  const outputWatchers = new Set<() => void>();
  const onOutput = (c: Buffer) => {
    out += c.toString();
    for (const w of [...outputWatchers]) w();
  };
  child.stdout!.on('data', onOutput);
  child.stderr!.on('data', onOutput);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    // 'close' (not 'exit'): also waits until its output has been read to the end.
    child.once('close', (code) => {
      exitCode = code;
      resolve(code);
      for (const w of [...outputWatchers]) w();
    }),
  );
  const host = env.TOKENGATE_HOST ?? '127.0.0.1';
  const url = `http://${host}:${port}`;
  const listening = new Promise<void>((resolve) =>
    child.on('message', (m: { tokengate?: string; port?: number }) => {
      if (m?.tokengate === 'listening' && m.port === port) resolve();
    }),
  );
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    listening.then(() => 'listening' as const),
    exited.then(() => 'exited' as const),
    new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs))),
  ]);
  clearTimeout(timer);
  if (outcome === 'exited') throw new Error(`gateway exited with ${exitCode} before serving:\n${out}`);
  if (outcome === 'timeout') {
    child.kill('SIGKILL');
    throw new Error(`gateway did not start in ${timeoutMs} ms:\n${out}`);
  }
  const health = await fetch(`${url}/healthz`).then(
    (r) => r.status,
    (err: Error) => err.message,
  );
  if (health !== 200) {
    child.kill('SIGKILL');
    throw new Error(`gateway listens but /healthz answered ${health}:\n${out}`);
  }
  const untilOutput = (check: (output: string) => boolean, waitMs = 30_000) =>
    new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        outputWatchers.delete(watch);
        clearTimeout(deadline);
        if (err) reject(err);
        else resolve();
      };
      const watch = () => {
        if (check(out)) done();
        else if (exitCode !== undefined) done(new Error(`gateway exited with ${exitCode}; its output never matched:\n${out}`));
      };
      const deadline = setTimeout(() => done(new Error(`gateway output did not match in ${waitMs} ms:\n${out}`)), waitMs);
      outputWatchers.add(watch);
      watch();
    });
  return {
    url,
    pid: child.pid!,
    child,
    output: () => out,
    untilOutput,
    stop: async () => {
      if (exitCode === undefined) child.kill('SIGTERM');
      return exited;
    },
    kill: async () => {
      if (exitCode === undefined) child.kill('SIGKILL');
      await exited;
    },
  };
}

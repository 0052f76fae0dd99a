import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const MAIN = path.resolve(__dirname, '../../dist/main.js');

/** A gateway in a process of its own (`node dist/main.js`, built by `npm test`). */
export interface GatewayProcess {
  url: string;
  pid: number;
  child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
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
 * `/healthz` answers (whatever its log level). Rejects with its output when
 * it exits first or does not come up in time.
 */
export async function spawnGateway(env: Record<string, string>, options: { cwd?: string; timeoutMs?: number } = {}): Promise<GatewayProcess> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const port = env.TOKENGATE_PORT && env.TOKENGATE_PORT !== '0' ? Number(env.TOKENGATE_PORT) : await freePort();
  const child = spawn(process.execPath, [MAIN], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '', TOKENGATE_LOG_LEVEL: 'info', ...env, TOKENGATE_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    // 'close' (not 'exit'): also waits until its output has been read to the end.
    child.once('close', (code) => {
      exitCode = code;
      resolve(code);
    }),
  );
  const host = env.TOKENGATE_HOST ?? '127.0.0.1';
  const url = `http://${host}:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exitCode !== undefined) throw new Error(`gateway exited with ${exitCode} before serving:\n${out}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`gateway did not start in ${timeoutMs} ms:\n${out}`);
    }
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  return {
    url,
    pid: child.pid!,
    child,
    output: () => out,
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

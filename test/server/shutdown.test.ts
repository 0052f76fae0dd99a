import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Keyring } from '../../src/crypto/keyring';
import { openStore } from '../../src/stores/open-store';
import { startFakeAccountsServer, type FakeAccountsServer } from '../support/fake-accounts-server';
import { testKeys } from '../support/gateway';
import { spawnGateway, type GatewayProcess } from '../support/process-gateway';

jest.setTimeout(90_000);

/** How a kept-alive client saw the gateway stop. */
interface LoadOutcome {
  ok: number;
  /** Answers other than 200. */
  failed: number;
  /** Requests sent on a connection the gateway had accepted that got no answer (reset, hung up). */
  resets: string[];
  /** Connections refused: the gateway had stopped listening (not an accepted request). */
  refused: number;
}

/**
 * `connections` clients, each on its own kept-alive connection, reading
 * tokens back to back until the gateway answers with `Connection: close` (it
 * is stopping: a client goes elsewhere) or the connection fails.
 */
function kepAliveLoad(url: string, key: string, ids: string[], connections: number, onAnswer: (n: number) => void): { done: Promise<LoadOutcome> } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const out: LoadOutcome = { ok: 0, failed: 0, resets: [], refused: 0 };
  const one = (id: string) =>
    new Promise<'more' | 'stop'>((resolve) => {
      const body = JSON.stringify({ query: 'query($id: ID!) { tokenById(id: $id) { id status } }', variables: { id } });
      const req = http.request(
        `${url}/graphql`,
        { method: 'POST', agent, headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const answered = res.statusCode === 200 && Buffer.concat(chunks).toString().includes(`"id":"${id}"`);
            if (answered) out.ok++;
            else out.failed++;
            onAnswer(out.ok);
            resolve(res.headers.connection === 'close' ? 'stop' : 'more');
          });
          res.on('error', (err: NodeJS.ErrnoException) => {
            out.resets.push(`${err.code ?? err.message} while reading an answer`);
            resolve('stop');
          });
        },
      );
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ECONNREFUSED') out.refused++;
        else out.resets.push(`${err.code ?? err.message} (reused connection: ${req.reusedSocket})`);
        resolve('stop');
      });
      req.end(body);
    });
  const client = async (n: number) => {
    for (let i = n; (await one(ids[i % ids.length]!)) === 'more'; i++);
  };
  return {
    done: Promise.all(Array.from({ length: connections }, (_, n) => client(n))).then(() => {
      agent.destroy();
      return out;
    }),
  };
}

/** Resolves with the exit code, or null when the process is still running after `ms`. */
function exitWithin(gw: GatewayProcess, ms: number): Promise<{ code: number | null; ms: number } | null> {
  const started = Date.now();
  return new Promise((resolve) => {
    if (gw.child.exitCode !== null) return resolve({ code: gw.child.exitCode, ms: 0 });
    const timer = setTimeout(() => resolve(null), ms);
    gw.child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, ms: Date.now() - started });
    });
  });
}

describe('stopping the gateway process', () => {
  const keys = testKeys();
  const encryptionKey = randomBytes(32);
  let cwd: string;
  let gw: GatewayProcess | undefined;
  let accounts: FakeAccountsServer | undefined;
  const baseEnv = () => ({
    TOKENGATE_API_KEYS: `admin:${keys.admin},operator:${keys.operator},viewer:${keys.viewer}`,
    TOKENGATE_ENCRYPTION_KEY: encryptionKey.toString('base64'),
    TOKENGATE_DATA_DIR: path.join(cwd, 'data'),
  });
  beforeEach(() => {
    cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'tokengate-stop-'));
  });
  afterEach(async () => {
    if (gw && gw.child.exitCode === null && gw.child.signalCode === null) await gw.kill();
    gw = undefined;
    await accounts?.close();
    accounts = undefined;
    fs.rmSync(cwd, { recursive: true, force: true });
  });

  it('on SIGTERM under a load of kept-alive reads: answers every accepted request, starts no provider call, exits 0 within 5 s', async () => {
    const clientId = '1000.STOP';
    const clientSecret = 'stop-secret';
    // Every refresh takes 1.5 s at the provider.
    let fourAtProvider!: () => void;
    const signalTime = new Promise<void>((resolve) => (fourAtProvider = resolve));
    let armed = false;
    accounts = await startFakeAccountsServer({
      delayMs: 1_500,
      // The background task refreshes four tokens at a time, each stuck 1.5 s at the provider, so a count that is a
      // multiple of four is the last arrival of a round of four: every worker is waiting on the provider.
      onRequest: () => armed && accounts!.count('refresh_token') % 4 === 0 && fourAtProvider(),
    });
    accounts.addClient(clientId, clientSecret);

    // 80 tokens expiring within the refresh-ahead window, in the database before the gateway starts.
    const store = await openStore({ kind: 'sqlite', path: path.join(cwd, 'data', 'tokengate.db') }, new Keyring([encryptionKey]));
    const ids: string[] = [];
    for (let i = 0; i < 80; i++) {
      const t = await store.tokens.saveToken({
        clientId,
        clientSecret,
        refreshToken: accounts.addRefreshToken(clientId),
        accessToken: `a${i}`,
        expiresAt: new Date(Date.now() + 60_000),
      });
      ids.push(t.id);
    }
    await store.close();
    gw = await spawnGateway({ ...baseEnv(), TOKENGATE_ACCOUNTS_URL: accounts.url, TOKENGATE_REFRESH_CHECK_SECONDS: '1' }, { cwd });

    let loadRunning!: () => void;
    const running = new Promise<void>((resolve) => (loadRunning = resolve));
    const load = kepAliveLoad(gw.url, keys.viewer, ids, 16, (n) => n === 300 && loadRunning());
    await running;
    armed = true;
    await signalTime;
    const atSignal = accounts.count('refresh_token');
    const exited = exitWithin(gw, 15_000);
    gw.child.kill('SIGTERM');

    const outcome = await load.done;
    const exit = await exited;
    expect(exit).not.toBeNull();
    expect(exit!.code).toBe(0);
    expect(exit!.ms).toBeLessThan(5_000);
    expect(outcome.resets).toEqual([]);
    expect(outcome.failed).toBe(0);
    // The signal came after 300 answers (not a throughput figure: the load waits for them).
    expect(outcome.ok).toBeGreaterThanOrEqual(300);
    // The refreshes in flight finished; none started after the signal.
    expect(accounts.count('refresh_token')).toBe(atSignal);
    expect(gw.output()).toContain('"msg":"stopped"');
  });

  it('exits within 5 s of SIGTERM when nobody reads its output any more', async () => {
    gw = await spawnGateway(baseEnv(), { cwd });
    // The reading end of its standard output goes away, as when the parent that read it is gone.
    gw.child.stdout!.destroy();
    const exited = exitWithin(gw, 15_000);
    gw.child.kill('SIGTERM');
    const exit = await exited;
    expect(exit).not.toBeNull();
    expect(exit!.code).toBe(0);
    expect(exit!.ms).toBeLessThan(5_000);
  });
});

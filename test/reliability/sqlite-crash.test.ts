import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { GatewayProcess } from '../support/process-gateway';
import { gatewayEnv, gqlAt, leakIn, startGateway, type GatewayEnv } from './helpers';

jest.setTimeout(180_000);

const SAVE = `mutation($t: TokenInput!) { saveToken(token: $t) { id accessToken } }`;
const BY_NAME = `query($u: String!) { token(match: { userName: $u }) { id accessToken } }`;

/** Savers, each writing its own users one save after the other (so each user's saves are in order). */
const SAVERS = 8;
const USERS_PER_SAVER = 4;
/** Acknowledged saves before the kill. */
const ACKED_BEFORE_KILL = 300;

/**
 * A SQLite gateway (writes on its writer thread, committed with group
 * commit) killed with SIGKILL in the middle of a load of saves; a new
 * process on the same file must find every acknowledged save, as last
 * acknowledged or as the one in flight when the process died.
 */
describe('a SQLite gateway killed with SIGKILL in the middle of saves', () => {
  let ge: GatewayEnv;
  const gateways: GatewayProcess[] = [];
  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.kill()));
    if (ge) fs.rmSync(ge.dataDir, { recursive: true, force: true });
  });

  it('loses no acknowledged save, and the file is intact', async () => {
    ge = gatewayEnv('mysql://unused', { TOKENGATE_STORE: 'sqlite' });
    delete ge.env.TOKENGATE_MYSQL_URL;
    const victim = await startGateway(ge.env);
    gateways.push(victim);
    const save = (t: Record<string, unknown>) => gqlAt(victim.url, ge.keys.admin, SAVE, { t }, 30_000);

    /** Per user, the access tokens saved, in order, with what came of each. */
    const history = new Map<string, Array<{ accessToken: string; outcome: 'acked' | 'refused' | 'unknown'; error?: string }>>();
    let acked = 0;
    let killed = false;
    let reached!: () => void;
    const enoughAcked = new Promise<void>((resolve) => (reached = resolve));
    const saver = async (w: number) => {
      for (let n = 1; !killed; n++) {
        const user = `crash-${w}-${n % USERS_PER_SAVER}@example.com`;
        const accessToken = `1000.crash-${w}-${n}`;
        const r = await save({ userName: user, clientId: '1000.CRASH', refreshToken: `1000.crash-refresh-${user}`, accessToken });
        const list = history.get(user) ?? [];
        history.set(user, list);
        if (r.status === 0) {
          list.push({ accessToken, outcome: 'unknown', error: r.failure });
          if (killed) return;
        } else if (r.body?.errors) {
          list.push({ accessToken, outcome: 'refused', error: JSON.stringify(r.body.errors).slice(0, 300) });
        } else {
          expect(leakIn(r.text)).toBeNull();
          list.push({ accessToken, outcome: 'acked' });
          if (++acked === ACKED_BEFORE_KILL) reached();
        }
      }
    };
    const load = Array.from({ length: SAVERS }, (_, w) => saver(w));
    await enoughAcked;
    killed = true;
    await victim.kill();
    await Promise.all(load);

    const all = [...history.values()].flat();
    expect(all.filter((s) => s.outcome === 'refused')).toEqual([]);
    expect(all.filter((s) => s.outcome === 'acked').length).toBeGreaterThanOrEqual(ACKED_BEFORE_KILL);

    // A new process on the same file: every user as last acknowledged, or as the save in flight at the kill.
    const next = await startGateway(ge.env);
    gateways.push(next);
    const problems: string[] = [];
    for (const [user, saves] of history) {
      const r = await gqlAt(next.url, ge.keys.admin, BY_NAME, { u: user }, 30_000);
      expect(r.body.errors).toBeUndefined();
      const stored: string | null = r.body.data.token?.accessToken ?? null;
      const lastAcked = saves.map((s) => s.outcome).lastIndexOf('acked');
      const allowed = saves.slice(Math.max(0, lastAcked)).map((s) => s.accessToken);
      if (lastAcked < 0) allowed.push(null as unknown as string);
      if (!allowed.includes(stored as string)) problems.push(`${user}: stored ${stored}, expected one of ${allowed.join(', ')}`);
    }
    expect(problems).toEqual([]);
    expect(await next.stop()).toBe(0);

    const db = new Database(path.join(ge.dataDir, 'tokengate.db'), { readonly: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      expect((db.prepare('SELECT COUNT(*) AS n FROM oauthtoken').get() as { n: number }).n).toBe(history.size);
    } finally {
      db.close();
    }
  });
});

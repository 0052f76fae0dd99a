/**
 * The store alone, in this process: `findToken({ userName })` and
 * `saveToken({ userName, accessToken, expiresAt })` per second against a raw
 * prepared statement of the driver on the same table, interleaved
 * (raw, store, raw, store…), median of the per-pair ratios.
 *
 * The raw references (see BENCHMARKS.md for what they leave out):
 * - find: `SELECT <the store's columns> FROM oauthtoken WHERE user_name_hash = ?`
 *   with the hash computed beforehand; the row is returned as the driver gives it.
 * - save: one `UPDATE oauthtoken SET <every column the store writes> WHERE id = ?`
 *   in autocommit, with values prepared beforehand (a valid ciphertext and hash
 *   of a new access token, so the table stays readable), `version = version + 1`.
 * SQLite: better-sqlite3 on the same file, with the store's pragmas
 * (WAL, synchronous = FULL, 64 MB cache), called synchronously in a loop.
 * MariaDB: a mysql2 pool of the store's size (16) with `pool.execute`, as many
 * in flight as the store run.
 */
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import { plainHash } from '../../src/crypto/keyring';
import { ROW_COLUMNS, WRITE_COLUMNS, secretAad } from '../../src/stores/sql/token-row';
import type { TokenStore } from '../../src/stores/token-store';
import type { BenchContext } from '../lib/context';
import { MYSQL_TABLE, type Dataset } from '../lib/datasets';
import type { BenchStore } from '../lib/options';
import { figure } from '../lib/report';
import { median, round } from '../lib/stats';

/** Rows the raw save reference rewrites; the store's saves use the other rows. */
const RAW_SAVE_ROWS = 2000;

type Row = Record<string, string | number | null>;

interface RawDriver {
  /** Finds the row of a user name hash. */
  find(hash: string): Promise<Row | undefined> | Row | undefined;
  /** Runs the prepared UPDATE with these parameters. */
  save(params: Array<string | number | null>): Promise<void> | void;
  /** Reads the write columns of one row by id. */
  row(id: string): Promise<Row | undefined> | Row | undefined;
  sync: boolean;
  close(): Promise<void> | void;
}

const RAW_UPDATE = (table: string) =>
  `UPDATE ${table} SET ${WRITE_COLUMNS.map((c) => (c === 'version' ? 'version = version + 1' : `${c} = ?`)).join(', ')} WHERE id = ?`;
const RAW_FIND = (table: string) => `SELECT ${ROW_COLUMNS} FROM ${table} WHERE user_name_hash = ?`;
const RAW_ROW = (table: string) => `SELECT id, ${WRITE_COLUMNS.join(', ')} FROM ${table} WHERE id = ?`;

function sqliteRaw(ds: Dataset): RawDriver {
  const db = new Database((ds.storeOptions as { path: string }).path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('cache_size = -65536');
  db.pragma('busy_timeout = 5000');
  const find = db.prepare(RAW_FIND('"oauthtoken"'));
  const update = db.prepare(RAW_UPDATE('"oauthtoken"'));
  const row = db.prepare(RAW_ROW('"oauthtoken"'));
  return {
    sync: true,
    find: (hash) => find.get(hash) as Row | undefined,
    save: (params) => {
      if (update.run(...params).changes !== 1) throw new Error('raw update changed no row');
    },
    row: (id) => row.get(id) as Row | undefined,
    close: () => {
      db.close();
    },
  };
}

function mysqlRaw(ds: Dataset): RawDriver {
  const pool = mysql.createPool({
    uri: (ds.storeOptions as { url: string }).url,
    connectionLimit: 16,
    maxIdle: 16,
    charset: 'utf8mb4_bin',
    timezone: 'Z',
    enableKeepAlive: true,
  });
  const t = `\`${MYSQL_TABLE}\``;
  const findSql = RAW_FIND(t);
  const updateSql = RAW_UPDATE(t);
  const rowSql = RAW_ROW(t);
  return {
    sync: false,
    find: async (hash) => ((await pool.execute(findSql, [hash]))[0] as Row[])[0],
    save: async (params) => {
      const [r] = await pool.execute(updateSql, params);
      if ((r as { affectedRows: number }).affectedRows !== 1) throw new Error('raw update changed no row');
    },
    row: async (id) => ((await pool.execute(rowSql, [id]))[0] as Row[])[0],
    close: () => pool.end(),
  };
}

/** Runs `op` for `seconds`: in a synchronous loop, or with `inFlight` asynchronous loops. @returns operations per second. */
async function throughput(seconds: number, inFlight: number, sync: boolean, op: (i: number) => unknown): Promise<number> {
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let done = 0;
  if (sync) {
    while (performance.now() < deadline) {
      for (let k = 0; k < 64; k++) op(done++);
    }
    return done / ((performance.now() - started) / 1000);
  }
  const worker = async () => {
    while (performance.now() < deadline) {
      await op(done++);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return done / ((performance.now() - started) / 1000);
}

export async function storeSection(ctx: BenchContext): Promise<void> {
  for (const kind of ctx.options.stores) await storeOn(ctx, kind);
}

async function storeOn(ctx: BenchContext, kind: BenchStore): Promise<void> {
  const { options, log } = ctx;
  const ds = await ctx.datasets.get(kind, 'large');
  const keyring = ctx.datasets.keyring;
  log(`store ${kind} (${ds.size.toLocaleString('en-US')} tokens): store in this process vs raw ${kind === 'sqlite' ? 'better-sqlite3' : 'mysql2'} statements`);
  const stores = await ctx.datasets.open(ds);
  const store: TokenStore = stores.tokens;
  const raw = kind === 'sqlite' ? sqliteRaw(ds) : mysqlRaw(ds);
  const inFlight = options.connections;
  const seconds = Math.max(1, Math.round(options.runSeconds / 2));
  try {
    const hashes = ds.userNames.map(plainHash);
    const rand = () => Math.floor(Math.random() * ds.size);
    let missing = 0;
    const rawFind = async () => {
      const ops = () => {
        const r = raw.find(hashes[rand()]!);
        if (raw.sync) {
          if (!r) missing++;
          return r;
        }
        return (r as Promise<Row | undefined>).then((row) => {
          if (!row) missing++;
        });
      };
      return throughput(seconds, inFlight, raw.sync, ops);
    };
    const storeFind = () =>
      throughput(seconds, inFlight, false, async () => {
        if (!(await store.findToken({ userName: ds.userNames[rand()]! }))) missing++;
      });

    // Saves. The raw reference rewrites rows [0, RAW_SAVE_ROWS) with prepared values; the store saves the others.
    log(`  preparing ${RAW_SAVE_ROWS} rows for the raw save (values encrypted beforehand)`);
    const prepared: Array<{ base: Row; alternates: Array<{ cipher: string; hash: string }> }> = [];
    for (let i = 0; i < Math.min(RAW_SAVE_ROWS, ds.size); i++) {
      const id = ds.ids[i]!;
      const base = await raw.row(id);
      if (!base) throw new Error(`row ${id} not found`);
      const alternates = [0, 1].map(() => {
        const accessToken = `1000.${randomBytes(16).toString('hex')}.${randomBytes(16).toString('hex')}`;
        return { cipher: keyring.encrypt(accessToken, secretAad(id, 'accessToken')), hash: keyring.lookupHash(accessToken) };
      });
      prepared.push({ base, alternates });
    }
    const rawSaveParams = (n: number): Array<string | number | null> => {
      const p = prepared[n % prepared.length]!;
      const alt = p.alternates[Math.floor(n / prepared.length) % 2]!;
      const now = Date.now();
      const values = WRITE_COLUMNS.filter((c) => c !== 'version').map((c) => {
        if (c === 'access_token') return alt.cipher;
        if (c === 'access_token_hash') return alt.hash;
        if (c === 'expires_at') return now + 3_600_000;
        if (c === 'updated_at') return now;
        const v = p.base[c];
        return v === undefined ? null : typeof v === 'bigint' ? Number(v) : v;
      });
      return [...values, p.base.id as string];
    };
    let rawSaves = 0;
    const rawSave = () => throughput(seconds, inFlight, raw.sync, () => raw.save(rawSaveParams(rawSaves++)));
    const storeSaveRows = ds.size - prepared.length;
    const storeSave = () =>
      throughput(seconds, inFlight, false, () => {
        const i = prepared.length + Math.floor(Math.random() * storeSaveRows);
        return store.saveToken({
          userName: ds.userNames[i]!,
          accessToken: `1000.${randomBytes(16).toString('hex')}.${randomBytes(16).toString('hex')}`,
          expiresAt: new Date(Date.now() + 3_600_000),
        });
      });

    const ops: Array<{ op: 'findToken' | 'saveToken'; raw: () => Promise<number>; store: () => Promise<number>; rawText: string }> = [
      { op: 'findToken', raw: rawFind, store: storeFind, rawText: 'raw SELECT by user_name_hash' },
      { op: 'saveToken', raw: rawSave, store: storeSave, rawText: 'raw UPDATE by id' },
    ];
    for (const o of ops) {
      // Warm-up of both sides.
      await o.raw();
      await o.store();
      const pairs: Array<{ raw: number; store: number }> = [];
      for (let pair = 0; pair < options.pairs; pair++) {
        const r = await o.raw();
        const s = await o.store();
        pairs.push({ raw: round(r), store: round(s) });
        log(`  ${kind} ${o.op} round ${pair + 1}: raw ${Math.round(r)}/s, store ${Math.round(s)}/s (${(s / r).toFixed(2)})`);
      }
      if (missing > 0) throw new Error(`${missing} lookups found nothing`);
      ctx.add(
        figure({
          id: `store.${kind}.${o.op}`,
          section: 'store',
          label: `${kind} store ${o.op}: operations/s`,
          value: round(median(pairs.map((p) => p.store))),
          unit: 'op/s',
          reference: { label: o.rawText, value: round(median(pairs.map((p) => p.raw))), unit: 'op/s' },
          ratio: round(median(pairs.map((p) => p.store / p.raw)), 3),
          target: { of: 'ratio', op: '>=', value: 0.5 },
          detail: { pairs, inFlight, seconds },
        }),
      );
    }
  } finally {
    await raw.close();
    await stores.close();
  }
}

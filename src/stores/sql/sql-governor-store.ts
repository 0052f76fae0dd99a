import { setTimeout as sleep } from 'node:timers/promises';
import { governorTableOf, mintsTableOf } from './migrations/providers';
import type { GovernorStore, MintRecord, SubjectState } from '../governor-store';
import { quoteIdent } from './sql-dialect';
import type { SqlExecutor, SqlParam } from './sql-executor';
import { toStoreError } from './store-error';

interface MintRow {
  id: number | string;
  subject: string;
  reserved_at: number | string;
  minted_at: number | string | null;
  alive_until: number | string | null;
}

const num = (v: number | string | null) => (v === null ? null : Number(v));
/** Deadlocks and lock timeouts between two deciding processes: tried again. */
const ATTEMPTS = 6;

/**
 * The governor's counters over SQL (SQLite and MySQL/MariaDB). A decision
 * locks the subjects' rows of `<table>_governor` (an upsert, which takes the
 * row's write lock at once; in subject order, so two decisions never wait on
 * each other in a circle), then reads `<table>_mints`.
 */
export class SqlGovernorStore implements GovernorStore {
  private readonly t: string;
  private readonly mints: string;
  private readonly governor: string;

  constructor(
    private readonly exec: SqlExecutor,
    table: string,
  ) {
    this.t = quoteIdent(exec.dialect, table);
    this.mints = quoteIdent(exec.dialect, mintsTableOf(table));
    this.governor = quoteIdent(exec.dialect, governorTableOf(table));
  }

  reserveMints(subjects: readonly string[], since: number, now: number, decide: (states: SubjectState[]) => boolean): Promise<string[] | null> {
    return this.guard(async () => {
      const sorted = [...new Set(subjects)].sort();
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.exec.transaction(async (tx) => {
            const blocks = new Map<string, number | null>();
            for (const subject of sorted) {
              await tx.run(
                tx.dialect === 'mysql'
                  ? `INSERT INTO ${this.governor} (subject) VALUES (?) ON DUPLICATE KEY UPDATE subject = subject`
                  : `INSERT OR IGNORE INTO ${this.governor} (subject) VALUES (?)`,
                [subject],
              );
            }
            const marks = sorted.map(() => '?').join(', ');
            for (const row of await tx.all<{ subject: string; blocked_until: number | string | null }>(
              `SELECT subject, blocked_until FROM ${this.governor} WHERE subject IN (${marks})${tx.forUpdate}`,
              sorted,
            )) {
              blocks.set(row.subject, num(row.blocked_until));
            }
            const rows = await tx.all<MintRow>(
              `SELECT id, subject, reserved_at, minted_at, alive_until FROM ${this.mints} WHERE subject IN (${marks}) AND (minted_at IS NULL OR minted_at > ? OR alive_until > ?)`,
              [...sorted, since, now],
            );
            const states: SubjectState[] = subjects.map((subject) => ({
              subject,
              blockedUntil: blocks.get(subject) ?? null,
              mints: rows.filter((r) => r.subject === subject).map(mintOf),
            }));
            if (!decide(states)) return null;
            const ids: string[] = [];
            for (const subject of subjects) {
              await tx.run(`INSERT INTO ${this.mints} (subject, reserved_at) VALUES (?, ?)`, [subject, now]);
              const [row] = await tx.all<{ id: number | string }>(
                tx.dialect === 'mysql' ? 'SELECT LAST_INSERT_ID() AS id' : 'SELECT last_insert_rowid() AS id',
              );
              ids.push(String(row!.id));
            }
            return ids;
          });
        } catch (err) {
          if (attempt >= ATTEMPTS || this.exec.classify(err) !== 'retry') throw err;
          await sleep(Math.random() * 5 * attempt);
        }
      }
    });
  }

  readSubjects(subjects: readonly string[], since: number, now: number): Promise<SubjectState[]> {
    return this.guard(async () => {
      const distinct = [...new Set(subjects)];
      if (distinct.length === 0) return [];
      const marks = distinct.map(() => '?').join(', ');
      const blocks = new Map<string, number | null>();
      for (const row of await this.exec.all<{ subject: string; blocked_until: number | string | null }>(
        `SELECT subject, blocked_until FROM ${this.governor} WHERE subject IN (${marks}) AND blocked_until IS NOT NULL`,
        distinct,
      )) {
        blocks.set(row.subject, num(row.blocked_until));
      }
      const mints = new Map<string, MintRecord[]>();
      for (const row of await this.exec.all<MintRow>(
        `SELECT id, subject, reserved_at, minted_at, alive_until FROM ${this.mints} WHERE subject IN (${marks}) AND (minted_at IS NULL OR minted_at > ? OR alive_until > ?)`,
        [...distinct, since, now],
      )) {
        const list = mints.get(row.subject) ?? [];
        list.push(mintOf(row));
        mints.set(row.subject, list);
      }
      return distinct.map((subject) => ({ subject, blockedUntil: blocks.get(subject) ?? null, mints: mints.get(subject) ?? [] }));
    });
  }

  settleMints(ids: readonly string[], mintedAt: number, aliveUntil: number | null): Promise<void> {
    return this.guard(async () => {
      if (ids.length === 0) return;
      await this.exec.run(`UPDATE ${this.mints} SET minted_at = ?, alive_until = ? WHERE id IN (${ids.map(() => '?').join(', ')})`, [
        mintedAt,
        aliveUntil,
        ...ids,
      ]);
    });
  }

  cancelMints(ids: readonly string[]): Promise<void> {
    return this.guard(async () => {
      if (ids.length === 0) return;
      await this.exec.run(`DELETE FROM ${this.mints} WHERE id IN (${ids.map(() => '?').join(', ')})`, [...ids]);
    });
  }

  blockSubject(subject: string, until: number): Promise<void> {
    return this.guard(async () => {
      const sql =
        this.exec.dialect === 'mysql'
          ? `INSERT INTO ${this.governor} (subject, blocked_until) VALUES (?, ?) ON DUPLICATE KEY UPDATE blocked_until = GREATEST(COALESCE(blocked_until, 0), VALUES(blocked_until))`
          : `INSERT INTO ${this.governor} (subject, blocked_until) VALUES (?, ?) ON CONFLICT (subject) DO UPDATE SET blocked_until = MAX(COALESCE(blocked_until, 0), excluded.blocked_until)`;
      await this.exec.run(sql, [subject, until]);
    });
  }

  markThrottled(tokenId: string, until: Date | null): Promise<void> {
    return this.guard(async () => {
      await this.exec.run(`UPDATE ${this.t} SET throttled_until = ? WHERE id = ?`, [until ? until.getTime() : null, tokenId]);
    });
  }

  pruneMints(before: number): Promise<number> {
    return this.guard(async () => {
      const params: SqlParam[] = [before, before, before - 24 * 3600_000];
      return this.exec.run(
        `DELETE FROM ${this.mints} WHERE (minted_at IS NOT NULL AND minted_at < ? AND (alive_until IS NULL OR alive_until < ?)) OR (minted_at IS NULL AND reserved_at < ?)`,
        params,
      );
    });
  }

  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toStoreError('governor', err, this.exec);
    }
  }
}

function mintOf(r: MintRow): MintRecord {
  return { id: String(r.id), reservedAt: Number(r.reserved_at), mintedAt: num(r.minted_at), aliveUntil: num(r.alive_until) };
}

import type { LeaseStore } from '../lease-store';
import { retryLostRaces } from '../lost-races';
import { nowMsExpression } from './sql-dialect';
import type { SqlExecutor } from './sql-executor';
import { guarded, lostRace } from './store-error';

/** Refresh leases in the token table's `lease_owner` and `lease_until` columns, timed by the database's clock. */
export class SqlLeaseStore implements LeaseStore {
  private readonly now: string;

  /** @param t the quoted token table */
  constructor(
    private readonly exec: SqlExecutor,
    private readonly t: string,
  ) {
    this.now = nowMsExpression(exec.dialect);
  }

  acquireLease(id: string, owner: string, ttlMs: number): Promise<boolean> {
    return guarded('acquireLease', this.exec, async () => {
      try {
        const changed = await this.exec.run(
          `UPDATE ${this.t} SET lease_owner = ?, lease_until = ${this.now} + ? WHERE id = ? AND (lease_owner IS NULL OR lease_owner = ? OR lease_until < ${this.now})`,
          [owner, Math.round(ttlMs), id, owner],
        );
        return changed === 1;
      } catch (err) {
        // Rolled back as a lost race (on Galera: another node took the lease at the same moment): not acquired.
        if (lostRace(this.exec, err)) return false;
        throw err;
      }
    });
  }

  releaseLease(id: string, owner: string): Promise<void> {
    return guarded('releaseLease', this.exec, async () => {
      await retryLostRaces(
        () => this.exec.run(`UPDATE ${this.t} SET lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?`, [id, owner]),
        (err) => lostRace(this.exec, err),
      );
    });
  }

  findRefreshCandidates(before: Date, limit: number): Promise<string[]> {
    return guarded('findRefreshCandidates', this.exec, async () => {
      const rows = await this.exec.all<{ id: string }>(
        `SELECT id FROM ${this.t} WHERE failed_at IS NULL AND (refresh_token_hash IS NOT NULL OR grant_token_hash IS NOT NULL)` +
          ` AND (expires_at IS NULL OR expires_at < ?) ORDER BY expires_at LIMIT ${Math.max(1, Math.floor(limit))}`,
        [before.getTime()],
      );
      return rows.map((r) => r.id);
    });
  }
}

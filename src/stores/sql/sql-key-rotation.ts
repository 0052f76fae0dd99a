import type { Keyring } from '../../crypto/keyring';
import { KeyMismatchError } from '../../errors';
import type { KeyRotation, KeyUsage, ReencryptBatch } from '../key-rotation';
import type { SqlExecutor, SqlParam } from './sql-executor';
import { guarded } from './store-error';
import { ROW_COLUMNS, SECRET_WRITE_COLUMNS, decryptRow, secretRowValues, type TokenRow } from './token-row';

/** Re-encryption of the token table's secrets under the keyring's current key. */
export class SqlKeyRotation implements KeyRotation {
  /** @param t the quoted token table */
  constructor(
    private readonly exec: SqlExecutor,
    private readonly keyring: Keyring,
    private readonly t: string,
  ) {}

  keyUsage(): Promise<KeyUsage[]> {
    return guarded('keyUsage', this.exec, async () => {
      const rows = await this.exec.all<{ key_id: string; n: number | string }>(
        `SELECT key_id, COUNT(*) AS n FROM ${this.t} WHERE key_id IS NOT NULL GROUP BY key_id`,
      );
      return rows.map((r) => ({ keyId: r.key_id, tokens: Number(r.n) }));
    });
  }

  reencryptBatch(limit: number, after: string | null): Promise<ReencryptBatch> {
    return guarded('reencrypt', this.exec, async () => {
      const n = Math.max(1, Math.min(10_000, Math.floor(limit)));
      const current = this.keyring.currentKeyId;
      const rows = await this.exec.all<TokenRow & { key_id: string }>(
        `SELECT ${ROW_COLUMNS}, key_id FROM ${this.t} WHERE key_id IS NOT NULL AND key_id <> ?${after === null ? '' : ' AND id > ?'} ORDER BY id LIMIT ${n}`,
        after === null ? [current] : [current, after],
      );
      const result: ReencryptBatch = {
        scanned: rows.length,
        reencrypted: 0,
        skipped: 0,
        failed: [],
        lastId: rows.length > 0 ? rows[rows.length - 1]!.id : null,
      };
      const updates: Array<{ id: string; version: number; keyId: string; values: SqlParam[] }> = [];
      for (const row of rows) {
        try {
          const token = decryptRow(row, this.keyring);
          updates.push({ id: row.id, version: token.version, keyId: row.key_id, values: secretRowValues(token, this.keyring) });
        } catch (err) {
          if (!(err instanceof KeyMismatchError)) throw err;
          result.failed.push(row.id);
        }
      }
      if (updates.length === 0) return result;
      const set = SECRET_WRITE_COLUMNS.map((c) => `${c} = ?`).join(', ');
      const changed = await this.exec.transaction(async (tx) => {
        let count = 0;
        // Compare-and-swap on version and key: a row written since it was read keeps what its writer stored.
        for (const u of updates)
          count += await tx.run(`UPDATE ${this.t} SET ${set} WHERE id = ? AND version = ? AND key_id = ?`, [...u.values, u.id, u.version, u.keyId]);
        return count;
      });
      result.reencrypted = changed;
      result.skipped = updates.length - changed;
      return result;
    });
  }
}

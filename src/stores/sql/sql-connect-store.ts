import type { Keyring } from '../../crypto/keyring';
import type { PendingConnect, PendingConnectStore } from '../connect-store';
import { connectsTableOf } from './migrations/connect';
import { quoteIdent } from './sql-dialect';
import type { SqlExecutor } from './sql-executor';
import { guarded } from './store-error';

interface ConnectRow {
  state_hash: string;
  request: string;
  code_verifier: string | null;
  created_at: number | string;
  expires_at: number | string;
}

/** The fields of a pending connect kept as JSON in its `request` column (no secret among them). */
type StoredRequest = Omit<PendingConnect, 'stateHash' | 'codeVerifier' | 'createdAt' | 'expiresAt'>;

const verifierAad = (stateHash: string) => `connect/${stateHash}/codeVerifier`;

/**
 * Pending connects over SQL: `<table>_connects`. Taking one is a read and a
 * `DELETE` whose changed-row count says who won: of any number of processes
 * taking the same state at once, exactly one deletes the row.
 */
export class SqlConnectStore implements PendingConnectStore {
  private readonly connects: string;

  constructor(
    private readonly exec: SqlExecutor,
    private readonly keyring: Keyring,
    table: string,
  ) {
    this.connects = quoteIdent(exec.dialect, connectsTableOf(table));
  }

  savePendingConnect(connect: PendingConnect): Promise<void> {
    return guarded('savePendingConnect', this.exec, async () => {
      const { stateHash, codeVerifier, createdAt, expiresAt, ...request } = connect;
      const stored: StoredRequest = request;
      await this.exec.run(`INSERT INTO ${this.connects} (state_hash, request, code_verifier, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`, [
        stateHash,
        JSON.stringify(stored),
        codeVerifier === null ? null : this.keyring.encrypt(codeVerifier, verifierAad(stateHash)),
        createdAt.getTime(),
        expiresAt.getTime(),
      ]);
    });
  }

  takePendingConnect(stateHash: string): Promise<PendingConnect | null> {
    return guarded('takePendingConnect', this.exec, async () => {
      const [row] = await this.exec.all<ConnectRow>(
        `SELECT state_hash, request, code_verifier, created_at, expires_at FROM ${this.connects} WHERE state_hash = ?`,
        [stateHash],
      );
      if (!row) return null;
      // The one DELETE that changes the row wins; every other taker (in any process) sees 0 and gets nothing.
      if ((await this.exec.run(`DELETE FROM ${this.connects} WHERE state_hash = ?`, [stateHash])) !== 1) return null;
      const request = JSON.parse(row.request) as StoredRequest;
      return {
        ...request,
        stateHash: row.state_hash,
        codeVerifier: row.code_verifier === null ? null : this.keyring.decrypt(row.code_verifier, verifierAad(row.state_hash)),
        createdAt: new Date(Number(row.created_at)),
        expiresAt: new Date(Number(row.expires_at)),
      };
    });
  }

  prunePendingConnects(before: Date): Promise<number> {
    return guarded('prunePendingConnects', this.exec, () => this.exec.run(`DELETE FROM ${this.connects} WHERE expires_at < ?`, [before.getTime()]));
  }
}

import { randomBytes } from 'node:crypto';
import type { Keyring } from '../../crypto/keyring';
import { KeyMismatchError, type StoreOperation } from '../../errors';
import type { ClientStore, OAuthClient, OAuthClientInput } from '../client-store';
import { clientsTableOf } from './migrations/connect';
import { quoteIdent } from './sql-dialect';
import type { SqlExecutor } from './sql-executor';
import { guarded, toStoreError } from './store-error';

interface ClientRow {
  id: string;
  name: string;
  provider: string;
  client_id: string;
  client_secret: string;
  key_id: string;
  scopes: string;
  redirect_url: string;
  accounts_url: string | null;
  created_at: number | string;
  updated_at: number | string;
}

const COLUMNS = 'id, name, provider, client_id, client_secret, key_id, scopes, redirect_url, accounts_url, created_at, updated_at';

/** The additional authenticated data of a client secret: it decrypts only in its own row. */
const secretAad = (id: string) => `client/${id}/clientSecret`;

/**
 * The OAuth clients over SQL: `<table>_clients`, the secret encrypted by the
 * `Keyring` (AES-256-GCM, bound to the row's id), the name unique.
 */
export class SqlClientStore implements ClientStore {
  private readonly clients: string;

  /** @param t the quoted token table (whose `client` column a delete clears) */
  constructor(
    private readonly exec: SqlExecutor,
    private readonly keyring: Keyring,
    table: string,
    private readonly t: string,
  ) {
    this.clients = quoteIdent(exec.dialect, clientsTableOf(table));
  }

  listClients(): Promise<OAuthClient[]> {
    return guarded('listClients', this.exec, async () => {
      const rows = await this.exec.all<ClientRow>(`SELECT ${COLUMNS} FROM ${this.clients} ORDER BY name`);
      return rows.map((r) => this.toClient(r, 'listClients'));
    });
  }

  findClient(nameOrId: string): Promise<OAuthClient | null> {
    return guarded('findClient', this.exec, async () => {
      const rows = await this.exec.all<ClientRow>(`SELECT ${COLUMNS} FROM ${this.clients} WHERE name = ? OR id = ?`, [nameOrId, nameOrId]);
      const row = rows.find((r) => r.name === nameOrId) ?? rows[0];
      return row ? this.toClient(row, 'findClient') : null;
    });
  }

  saveClient(input: OAuthClientInput): Promise<{ client: OAuthClient; created: boolean }> {
    return guarded('saveClient', this.exec, async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.exec.transaction(async (tx) => {
            const now = Date.now();
            const [held] = await tx.all<{ id: string; created_at: number | string }>(
              `SELECT id, created_at FROM ${this.clients} WHERE name = ?${tx.forUpdate}`,
              [input.name],
            );
            const id = held?.id ?? randomBytes(12).toString('base64url');
            const values = [
              input.provider,
              input.clientId,
              this.keyring.encrypt(input.clientSecret, secretAad(id)),
              this.keyring.currentKeyId,
              JSON.stringify(input.scopes),
              input.redirectUrl,
              input.accountsUrl,
              now,
            ];
            if (held) {
              await tx.run(
                `UPDATE ${this.clients} SET provider = ?, client_id = ?, client_secret = ?, key_id = ?, scopes = ?, redirect_url = ?, accounts_url = ?, updated_at = ? WHERE id = ?`,
                [...values, id],
              );
            } else {
              await tx.run(`INSERT INTO ${this.clients} (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, [
                id,
                input.name,
                ...values.slice(0, -1),
                now,
                now,
              ]);
            }
            const client: OAuthClient = { id, ...structuredClone(input), createdAt: new Date(held ? Number(held.created_at) : now), updatedAt: new Date(now) };
            return { client, created: !held };
          });
        } catch (err) {
          // Two first saves of one name at once: the unique index lets one in; the other becomes an update.
          if (attempt < 3 && this.exec.classify(err) === 'unique') continue;
          throw err;
        }
      }
    });
  }

  deleteClient(name: string): Promise<boolean> {
    return guarded('deleteClient', this.exec, () =>
      this.exec.transaction(async (tx) => {
        const deleted = (await tx.run(`DELETE FROM ${this.clients} WHERE name = ?`, [name])) > 0;
        // Not a write of the tokens' credentials: no new version (a refresh in flight stores its result as usual).
        if (deleted) await tx.run(`UPDATE ${this.t} SET client = NULL WHERE client = ?`, [name]);
        return deleted;
      }),
    );
  }

  reencryptClients(): Promise<number> {
    return guarded('reencryptClients', this.exec, () =>
      this.exec.transaction(async (tx) => {
        const rows = await tx.all<ClientRow>(`SELECT ${COLUMNS} FROM ${this.clients} WHERE key_id <> ?${tx.forUpdate}`, [this.keyring.currentKeyId]);
        let n = 0;
        for (const row of rows) {
          const secret = this.keyring.decrypt(row.client_secret, secretAad(row.id));
          n += await tx.run(`UPDATE ${this.clients} SET client_secret = ?, key_id = ? WHERE id = ?`, [
            this.keyring.encrypt(secret, secretAad(row.id)),
            this.keyring.currentKeyId,
            row.id,
          ]);
        }
        return n;
      }),
    );
  }

  /**
   * A row as a client whose secret decrypts on first read (an own, enumerable
   * accessor, as a token's sealed secrets): listing clients for a role that
   * may not read the secret pays no decryption, and a secret that does not
   * decrypt (a tampered row, a key no longer configured) fails only the
   * reader of that secret, with a `TokenStoreError` of `operation`.
   */
  private toClient(r: ClientRow, operation: StoreOperation): OAuthClient {
    const client = {
      id: r.id,
      name: r.name,
      provider: r.provider,
      clientId: r.client_id,
      scopes: JSON.parse(r.scopes) as string[],
      redirectUrl: r.redirect_url,
      accountsUrl: r.accounts_url,
      createdAt: new Date(Number(r.created_at)),
      updatedAt: new Date(Number(r.updated_at)),
    };
    const keyring = this.keyring;
    let plain: string | undefined;
    return Object.defineProperty(client, 'clientSecret', {
      enumerable: true,
      configurable: true,
      get(): string {
        if (plain === undefined) {
          try {
            plain = keyring.decrypt(r.client_secret, secretAad(r.id));
          } catch (err) {
            throw err instanceof KeyMismatchError ? toStoreError(operation, err) : err;
          }
        }
        return plain;
      },
      set(value: string) {
        plain = value;
      },
    }) as OAuthClient;
  }
}

import { TokenStoreError, type StoreOperation } from '../../errors';
import { providersTableOf } from './migrations/providers';
import type { ProviderDefinition } from '../../providers/provider';
import type { ProviderStore } from '../provider-store';
import { quoteIdent } from './sql-dialect';
import type { SqlExecutor } from './sql-executor';
import { toStoreError } from './store-error';

/** The registered providers over SQL: `<table>_providers`, one row per name with its definition as JSON. */
export class SqlProviderStore implements ProviderStore {
  private readonly t: string;
  private readonly providers: string;

  constructor(
    private readonly exec: SqlExecutor,
    table: string,
  ) {
    this.t = quoteIdent(exec.dialect, table);
    this.providers = quoteIdent(exec.dialect, providersTableOf(table));
  }

  listProviders(): Promise<ProviderDefinition[]> {
    return this.guard('listProviders', async () => {
      const rows = await this.exec.all<{ definition: string }>(`SELECT definition FROM ${this.providers} ORDER BY name`);
      return rows.map((r) => JSON.parse(r.definition) as ProviderDefinition);
    });
  }

  saveProvider(definition: ProviderDefinition): Promise<void> {
    return this.guard('saveProvider', async () => {
      const sql =
        this.exec.dialect === 'mysql'
          ? `INSERT INTO ${this.providers} (name, definition, updated_at) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE definition = VALUES(definition), updated_at = VALUES(updated_at)`
          : `INSERT INTO ${this.providers} (name, definition, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at`;
      await this.exec.run(sql, [definition.name, JSON.stringify(definition), Date.now()]);
    });
  }

  deleteProvider(name: string): Promise<boolean> {
    return this.guard('deleteProvider', () =>
      this.exec.transaction(async (tx) => {
        // Locks the definition first: a token saved with this provider meanwhile waits, then sees it gone (or it stays).
        const held = await tx.all(`SELECT name FROM ${this.providers} WHERE name = ?${tx.forUpdate}`, [name]);
        if (held.length === 0) return false;
        const [row] = await tx.all<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${this.t} WHERE provider = ?`, [name]);
        const using = Number(row?.n ?? 0);
        if (using > 0)
          throw new TokenStoreError(
            'deleteProvider',
            'INVALID_INPUT',
            `${using} token${using === 1 ? ' uses' : 's use'} the provider ${name}: delete or move them first`,
          );
        return (await tx.run(`DELETE FROM ${this.providers} WHERE name = ?`, [name])) > 0;
      }),
    );
  }

  private async guard<T>(operation: StoreOperation, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toStoreError(operation, err, this.exec);
    }
  }
}

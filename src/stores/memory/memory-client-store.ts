import { randomBytes } from 'node:crypto';
import type { ClientStore, OAuthClient, OAuthClientInput } from '../client-store';
import type { PendingConnect, PendingConnectStore } from '../connect-store';
import type { MemoryDatabase } from './memory-database';
import { guarded } from './memory-database';

const copy = (c: OAuthClient): OAuthClient => ({ ...c, scopes: [...c.scopes], createdAt: new Date(c.createdAt), updatedAt: new Date(c.updatedAt) });

/** The OAuth clients in process memory (the memory store). */
export class MemoryClientStore implements ClientStore {
  private readonly byName = new Map<string, OAuthClient>();

  constructor(private readonly db: MemoryDatabase) {}

  async listClients(): Promise<OAuthClient[]> {
    return [...this.byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map(copy);
  }

  async findClient(nameOrId: string): Promise<OAuthClient | null> {
    const client = this.byName.get(nameOrId) ?? [...this.byName.values()].find((c) => c.id === nameOrId);
    return client ? copy(client) : null;
  }

  async saveClient(input: OAuthClientInput): Promise<{ client: OAuthClient; created: boolean }> {
    return guarded('saveClient', () => {
      const held = this.byName.get(input.name);
      const now = new Date();
      const client: OAuthClient = {
        ...structuredClone(input),
        id: held?.id ?? randomBytes(12).toString('base64url'),
        createdAt: held?.createdAt ?? now,
        updatedAt: now,
      };
      this.byName.set(client.name, client);
      return { client: copy(client), created: !held };
    });
  }

  async deleteClient(name: string): Promise<boolean> {
    return guarded('deleteClient', () => {
      if (!this.byName.delete(name)) return false;
      for (const token of this.db.tokens.values()) if (token.client === name) this.db.tokens.set(token.id, { ...token, client: null });
      return true;
    });
  }

  async reencryptClients(): Promise<number> {
    return 0;
  }
}

/** Pending connects in process memory: one process, so taking one is a plain delete. */
export class MemoryConnectStore implements PendingConnectStore {
  private readonly pending = new Map<string, PendingConnect>();

  async savePendingConnect(connect: PendingConnect): Promise<void> {
    this.pending.set(connect.stateHash, structuredClone(connect));
  }

  async takePendingConnect(stateHash: string): Promise<PendingConnect | null> {
    const connect = this.pending.get(stateHash);
    if (!connect) return null;
    this.pending.delete(stateHash);
    return connect;
  }

  async prunePendingConnects(before: Date): Promise<number> {
    let n = 0;
    for (const [hash, c] of this.pending) {
      if (c.expiresAt.getTime() < before.getTime()) {
        this.pending.delete(hash);
        n++;
      }
    }
    return n;
  }
}

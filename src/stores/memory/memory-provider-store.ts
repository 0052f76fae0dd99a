import { TokenStoreError } from '../../errors';
import type { ProviderDefinition } from '../../providers/provider';
import type { ProviderStore } from '../provider-store';

/** The registered providers in process memory (the memory store). `tokensUsing` counts the tokens naming a provider. */
export class MemoryProviderStore implements ProviderStore {
  private readonly definitions = new Map<string, ProviderDefinition>();

  constructor(private readonly tokensUsing: (name: string) => number) {}

  async listProviders(): Promise<ProviderDefinition[]> {
    return [...this.definitions.values()].map((d) => structuredClone(d));
  }

  async saveProvider(definition: ProviderDefinition): Promise<void> {
    this.definitions.set(definition.name, structuredClone(definition));
  }

  async deleteProvider(name: string): Promise<boolean> {
    const using = this.tokensUsing(name);
    if (using > 0)
      throw new TokenStoreError(
        'deleteProvider',
        'INVALID_INPUT',
        `${using} token${using === 1 ? ' uses' : 's use'} the provider ${name}: delete or move them first`,
      );
    return this.definitions.delete(name);
  }
}

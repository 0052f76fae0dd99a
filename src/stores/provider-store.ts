import type { ProviderDefinition } from '../providers/provider';

/**
 * Where the providers an admin registered are kept (`saveProvider`), shared
 * by every gateway process on the database. Definitions hold endpoints and
 * limits, never a secret. Errors are `TokenStoreError`s, as the token store's.
 */
export interface ProviderStore {
  /** Every stored definition, by name. */
  listProviders(): Promise<ProviderDefinition[]>;

  /** Inserts or replaces the definition of `definition.name`. */
  saveProvider(definition: ProviderDefinition): Promise<void>;

  /**
   * Deletes a definition, in one transaction with the check that no token
   * names the provider. @returns false when there was none.
   * @throws TokenStoreError `INVALID_INPUT` while a token uses it (nothing is deleted).
   */
  deleteProvider(name: string): Promise<boolean>;
}

import { KeyMismatchError, TokenStoreError, type StoreOperation } from '../../errors';
import { LostRace } from '../upsert';
import type { SqlExecutor } from './sql-executor';

/** Maps anything a store operation threw to a `TokenStoreError`, keeping the cause. */
export function toStoreError(operation: StoreOperation, err: unknown, exec?: SqlExecutor): TokenStoreError {
  if (err instanceof TokenStoreError) {
    return err.operation === operation ? err : new TokenStoreError(operation, err.kind, err.detail, { cause: err });
  }
  if (err instanceof LostRace) {
    return new TokenStoreError(operation, 'CONFLICT', 'concurrent writes of this token kept winning; try again', { cause: err });
  }
  if (err instanceof KeyMismatchError) {
    return new TokenStoreError(operation, 'INTERNAL', 'a stored secret does not decrypt with the configured encryption keys', { cause: err });
  }
  switch (exec?.classify(err)) {
    case 'unavailable':
      return new TokenStoreError(operation, 'UNAVAILABLE', 'the database is not reachable', { cause: err });
    case 'unique':
      return new TokenStoreError(operation, 'CONFLICT', 'a concurrent write won; try again', { cause: err });
    case 'retry':
      // Still rolled back after the store's retries (lock or certification conflicts): retryable, nothing was written.
      return new TokenStoreError(operation, 'UNAVAILABLE', 'the database kept rolling this back as a conflict with concurrent writes; try again', {
        cause: err,
      });
    default:
      return new TokenStoreError(operation, 'INTERNAL', 'the database failed', { cause: err });
  }
}

/** Whether a statement or transaction lost a lock or certification race that the database rolled back (it had no effect). */
export const lostRace = (exec: SqlExecutor, err: unknown) => exec.classify(err) === 'retry';

/** Runs a store operation, turning every failure into a `TokenStoreError` that names it. */
export async function guarded<T>(operation: StoreOperation, exec: SqlExecutor, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toStoreError(operation, err, exec);
  }
}

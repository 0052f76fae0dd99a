import type { Histogram } from 'prom-client';
import { TokenStoreError } from '../errors';
import type { TokenStore } from './token-store';

const TIMED = ['findToken', 'saveToken', 'deleteToken', 'getTokens', 'deleteTokens', 'findTokenById', 'listTokens', 'countTokens', 'searchTokens', 'countByStatus', 'acquireLease', 'releaseLease', 'findRefreshCandidates', 'appendAudit', 'listAudit', 'pruneAudit', 'ping'] as const;

/**
 * Wraps a store so that every operation's duration lands in a histogram,
 * labelled by operation and outcome (`ok` or the error kind).
 */
export function instrumentStore<S extends TokenStore>(store: S, histogram: Histogram<'operation' | 'outcome'>): S {
  const wrapped: S = Object.create(store);
  for (const operation of TIMED) {
    const original = (store as unknown as Record<string, (...a: unknown[]) => unknown>)[operation]!.bind(store) as (...args: unknown[]) => Promise<unknown>;
    (wrapped as unknown as Record<string, unknown>)[operation] = async (...args: unknown[]) => {
      const end = histogram.startTimer({ operation });
      try {
        const result = await original(...args);
        end({ outcome: 'ok' });
        return result;
      } catch (err) {
        end({ outcome: err instanceof TokenStoreError ? err.kind.toLowerCase() : 'error' });
        throw err;
      }
    };
  }
  return wrapped;
}

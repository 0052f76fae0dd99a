import { TokenStoreError } from '../errors';
import type { Stores } from './stores';

type Methods<T> = ReadonlyArray<{ [K in keyof T]: T[K] extends (...args: never[]) => Promise<unknown> ? K : never }[keyof T]>;

const TOKENS: Methods<Stores['tokens']> = ['findToken', 'saveToken', 'deleteToken', 'getTokens', 'deleteTokens', 'findTokenById', 'listTokens', 'countTokens'];
const LEASES: Methods<Stores['leases']> = ['acquireLease', 'releaseLease', 'findRefreshCandidates'];
const AUDIT: Methods<Stores['audit']> = ['appendAudit', 'listAudit', 'pruneAudit'];
const BROWSE: Methods<Stores['browse']> = ['searchTokens', 'countByStatus'];
const CLIENTS: Methods<Stores['clients']> = ['listClients', 'findClient', 'saveClient', 'deleteClient', 'reencryptClients'];
const CONNECTS: Methods<Stores['connects']> = ['savePendingConnect', 'takePendingConnect', 'prunePendingConnects'];
const GOVERNOR: Methods<Stores['governor']> = ['reserveMints', 'readSubjects', 'settleMints', 'cancelMints', 'blockSubject', 'markThrottled', 'pruneMints'];

/** Where the durations go (in seconds): the gateway's `tokengate_store_operation_duration_seconds`. */
export interface DurationHistogram {
  observe(labels: { operation: string; outcome: string }, seconds: number): void;
}

/**
 * Wraps stores so that every operation's duration lands in a histogram,
 * labelled by operation (the method's name) and outcome (`ok` or the error kind).
 */
export function instrumentStores(stores: Stores, histogram: DurationHistogram): Stores {
  const timed = async <T>(operation: string, call: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      const result = await call();
      histogram.observe({ operation, outcome: 'ok' }, (performance.now() - started) / 1e3);
      return result;
    } catch (err) {
      histogram.observe({ operation, outcome: err instanceof TokenStoreError ? err.kind.toLowerCase() : 'error' }, (performance.now() - started) / 1e3);
      throw err;
    }
  };
  const wrap = <T extends object>(store: T, methods: Methods<T>): T => {
    const wrapped: T = Object.create(store);
    for (const name of methods) {
      const original = (store[name] as (...args: unknown[]) => Promise<unknown>).bind(store);
      (wrapped as Record<string, unknown>)[name as string] = (...args: unknown[]) => timed(name as string, () => original(...args));
    }
    return wrapped;
  };
  return {
    ...stores,
    tokens: wrap(stores.tokens, TOKENS),
    leases: wrap(stores.leases, LEASES),
    audit: wrap(stores.audit, AUDIT),
    browse: wrap(stores.browse, BROWSE),
    governor: wrap(stores.governor, GOVERNOR),
    clients: wrap(stores.clients, CLIENTS),
    connects: wrap(stores.connects, CONNECTS),
    ping: () => timed('ping', () => stores.ping()),
  };
}

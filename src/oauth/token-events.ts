import type { Token } from '../stores/token';

/**
 * What the refresh engine and the token service report about a token's
 * health. Every method returns at once: whatever it does runs in the
 * background and never fails the caller.
 */
export interface TokenEvents {
  /** The token just became `FAILED` (a permanent refusal was stored). */
  failed(token: Token): void;
  /** A `FAILED` token was just saved with new credentials or refreshed successfully. */
  recovered(token: Token): void;
  /** A refresh of the token just failed transiently (its audit entry is written or being written). */
  refreshUnavailable(token: Token, reason: string): void;
  /** The connect flow just stored the token (new, or its credentials replaced). */
  connected(token: Token): void;
  /** Resolves once what the calls so far started in the background is done (shutdown, tests). */
  idle?(): Promise<void>;
}

/** Reports nowhere (no webhook configured). */
export const NO_TOKEN_EVENTS: TokenEvents = {
  failed: () => undefined,
  recovered: () => undefined,
  refreshUnavailable: () => undefined,
  connected: () => undefined,
};

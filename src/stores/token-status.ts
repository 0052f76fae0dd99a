import { hasSecret } from './sealed-secrets';
import type { Token } from './token';

/** The state of a token as the API reports it (`TokenStatus` of the contract). */
export type TokenStatus = 'ACTIVE' | 'EXPIRING' | 'EXPIRED' | 'PENDING_GRANT' | 'FAILED' | 'THROTTLED';

/**
 * Derives a token's status at `now`, given the refresh-ahead window:
 * - `FAILED`: the last refresh failed permanently (needs re-authorization);
 * - `THROTTLED`: the provider's issuing limits allow no new access token before
 *   `throttledUntil`, and none valid was held when a caller asked (`FAILED` wins);
 * - `ACTIVE`: an access token valid beyond the window (or with no known expiry);
 * - `EXPIRING`: an access token that expires within the window;
 * - `PENDING_GRANT`: no usable access token and only a grant token to get one;
 * - `EXPIRED`: no usable access token (a refresh token may get one).
 */
export function tokenStatus(
  token: Pick<Token, 'failedAt' | 'accessToken' | 'expiresAt' | 'refreshToken' | 'grantToken'> & { throttledUntil?: Date | null },
  now: number,
  windowMs: number,
): TokenStatus {
  if (token.failedAt) return 'FAILED';
  if (token.throttledUntil && token.throttledUntil.getTime() > now) return 'THROTTLED';
  if (hasSecret(token, 'accessToken')) {
    if (!token.expiresAt) return 'ACTIVE';
    const left = token.expiresAt.getTime() - now;
    if (left > windowMs) return 'ACTIVE';
    if (left > 0) return 'EXPIRING';
  }
  if (!hasSecret(token, 'refreshToken') && hasSecret(token, 'grantToken')) return 'PENDING_GRANT';
  return 'EXPIRED';
}

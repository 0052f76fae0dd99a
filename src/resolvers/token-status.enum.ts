import { registerEnumType } from 'type-graphql';
import type { TokenStatus as Status } from '../stores/token-status';

export enum TokenStatus {
  ACTIVE = 'ACTIVE',
  EXPIRING = 'EXPIRING',
  EXPIRED = 'EXPIRED',
  PENDING_GRANT = 'PENDING_GRANT',
  FAILED = 'FAILED',
  THROTTLED = 'THROTTLED',
}

// The enum and the service's union must stay the same set.
const _check: Record<Status, TokenStatus> = TokenStatus;
void _check;

registerEnumType(TokenStatus, {
  name: 'TokenStatus',
  description: 'Where a token stands',
  valuesConfig: {
    ACTIVE: { description: 'access token valid beyond the refresh-ahead window' },
    EXPIRING: { description: 'access token expires within the refresh-ahead window' },
    EXPIRED: { description: 'access token expired (or absent); a refresh token may get a new one' },
    PENDING_GRANT: { description: 'only a grant token is held: the first refresh exchanges it' },
    FAILED: { description: 'the last refresh failed permanently (e.g. invalid_code): needs re-authorization' },
    THROTTLED: {
      description:
        "the provider's issuing limits allow no new access token yet and none valid is held; a refresh fails with THROTTLED and retryAfter until then",
    },
  },
});

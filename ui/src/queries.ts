import type { Status } from './format';

/** The fields of a token that the list and the token page show (never a secret). */
export const TOKEN_ROW_FIELDS = 'id userName accountsUrl status expiresAt lastRefreshedAt lastError';

export interface TokenRow {
  id: string;
  userName: string | null;
  provider?: string | null;
  accountsUrl: string | null;
  status: Status;
  expiresAt: string | null;
  lastRefreshedAt: string | null;
  lastError: string | null;
}

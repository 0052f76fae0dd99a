/**
 * The dashboard's only way to the gateway: GraphQL over `POST /graphql` and the
 * session routes, all same-origin. The API key is sent once, to `/session`,
 * which answers an HttpOnly cookie: no script here ever holds the key afterwards.
 */

import type { Role } from '../../src/roles';

export type { Role };

export interface Session {
  role: Role;
  keyName: string;
  /** Whether the gateway serves the GraphQL playground at /graphql (`TOKENGATE_PLAYGROUND`). */
  playground?: boolean;
  /** The gateway's public URL (`TOKENGATE_PUBLIC_URL`), where the connect flow comes back; null without one. */
  publicUrl?: string | null;
}

/** An error of the API, with its contract code (`FORBIDDEN`, `REFRESH_FAILED`, …). */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** Raised when the session has ended (expired cookie, key removed): the app shows the sign-in form. */
export class SignedOut extends ApiError {}

async function json(res: Response): Promise<any> {
  try {
    return await res.json();
  } catch {
    return null;
  }
}

export async function currentSession(): Promise<Session | null> {
  const res = await fetch('/session', { credentials: 'same-origin', headers: { accept: 'application/json' } });
  if (res.status === 401) return null;
  if (!res.ok) throw new ApiError('UNAVAILABLE', `the gateway answered ${res.status}`);
  return (await json(res)) as Session;
}

export async function signIn(apiKey: string): Promise<Session> {
  const res = await fetch('/session', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ apiKey }),
  });
  const body = await json(res);
  if (!res.ok) throw new ApiError(body?.error?.code ?? 'UNAUTHENTICATED', body?.error?.message ?? 'sign-in failed');
  return body as Session;
}

export async function signOut(): Promise<void> {
  await fetch('/session', { method: 'DELETE', credentials: 'same-origin' });
}

/** Runs one GraphQL operation; throws `ApiError` with the first error's code. */
export async function gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch('/graphql', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError('NETWORK_ERROR', 'cannot reach the gateway');
  }
  const body = await json(res);
  const first = body?.errors?.[0];
  if (first) {
    const code = String(first.extensions?.code ?? 'INTERNAL_SERVER_ERROR');
    if (code === 'UNAUTHENTICATED') throw new SignedOut(code, 'your session has ended: sign in again');
    throw new ApiError(code, String(first.message ?? code), first.extensions ?? {});
  }
  if (!res.ok || !body?.data) throw new ApiError('UNAVAILABLE', `the gateway answered ${res.status}`);
  return body.data as T;
}

export const canAct = (role: Role) => role === 'operator' || role === 'admin';
export const isAdmin = (role: Role) => role === 'admin';

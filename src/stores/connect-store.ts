/**
 * The pending connects of the connect flow (`shared/spec/connect.md`): one
 * per `startConnect`, waiting for the provider's callback, shared by every
 * gateway process on the database so that the callback may reach any of
 * them. A connect is found by the SHA-256 of its `state` (the state itself is
 * never stored), and taken exactly once. Errors are `TokenStoreError`s.
 */
import type { AuditActor } from '../audit/audit';

/** A started connect, as stored until its callback. */
export interface PendingConnect {
  /** SHA-256 (hex) of the `state` sent to the provider. */
  stateHash: string;
  /** The id of the OAuth client record (`OAuthClient.id`). */
  clientRecordId: string;
  /** The user name the token is saved under (null: the token named by `tokenId` keeps its own). */
  userName: string | null;
  scopes: string[];
  /** Where the browser is sent back with the outcome; null: an offline page instead. */
  returnTo: string | null;
  /** The token a reconnect replaces the credentials of; null for a new token (or Zoho's save rules by user name). */
  tokenId: string | null;
  /** Whether the oldest refresh token of the user and client may be replaced (the refresh-token limit). */
  replaceOldest: boolean;
  /** The PKCE code verifier (RFC 7636), for a provider that uses PKCE: a secret, encrypted at rest. */
  codeVerifier: string | null;
  /** Who started it (the API key's role and name): its `CONNECT` audit entry names them. */
  actor: AuditActor;
  createdAt: Date;
  /** After this instant the callback is refused (absolute). */
  expiresAt: Date;
}

export interface PendingConnectStore {
  /** Stores a started connect. */
  savePendingConnect(connect: PendingConnect): Promise<void>;

  /**
   * Takes the connect of a state hash: reads and deletes it, so that of any
   * number of callers (in any process) exactly one gets it; the others get
   * null, as for a state never stored. An expired connect is taken too (the
   * caller checks `expiresAt`).
   */
  takePendingConnect(stateHash: string): Promise<PendingConnect | null>;

  /** Deletes the connects that expired before `before`. @returns how many. */
  prunePendingConnects(before: Date): Promise<number>;
}

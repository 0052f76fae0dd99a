import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, gql, type Session } from '../api';
import { Notice } from '../components';
import { href, type Route } from '../router';

interface Client {
  name: string;
  provider: string;
  clientId: string;
}

/** The connection being reconnected: which client it was connected through. */
interface Reconnected {
  client: string | null;
  clientId: string | null;
}

const CLIENTS = `query Clients { clients { name provider clientId } }`;
const RECONNECTED = `query Reconnected($id: ID!) { tokenById(id: $id) { client clientId } }`;

/**
 * The client a Reconnect starts with: the token's own (by name, else the one
 * client with its client id); null when none is known, so that the person
 * chooses: a default would replace the token's credentials under another
 * client id. A new connection starts with the first client.
 */
function preselected(clients: Client[], token: Reconnected | null | undefined): string | null {
  if (token === undefined) return clients[0]?.name ?? null;
  if (token === null) return null;
  if (token.client && clients.some((c) => c.name === token.client)) return token.client;
  const same = clients.filter((c) => token.clientId !== null && c.clientId === token.clientId);
  return same.length === 1 ? same[0]!.name : null;
}
const START = `mutation Start($input: StartConnectInput!) { startConnect(input: $input) { authorizationUrl expiresAt } }`;

/**
 * "Connect an account" (and Reconnect, with `tokenId`): asks the gateway for the
 * provider's consent URL and sends the browser there; the gateway's callback
 * brings it back to `/?connect=ok&token=<id>`.
 */
export function ConnectView({ session, route, onSignedOut }: { session: Session; route: Route; onSignedOut: (reason?: string) => void }) {
  const tokenId = route.params.get('tokenId');
  const [clients, setClients] = useState<Client[] | null>(null);
  // undefined: not a Reconnect; null: the token is not found.
  const [token, setToken] = useState<Reconnected | null | undefined>(undefined);
  const [error, setError] = useState<ComponentChildren | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    Promise.all([gql<{ clients: Client[] }>(CLIENTS), tokenId ? gql<{ tokenById: Reconnected | null }>(RECONNECTED, { id: tokenId }) : null])
      .then(([c, t]) => {
        if (t) setToken(t.tokenById);
        setClients(c.clients);
      })
      .catch((err) => {
        if (err instanceof ApiError && err.code === 'UNAUTHENTICATED') onSignedOut('Your session has ended: sign in again.');
        else setError(err instanceof ApiError ? err.message : 'The gateway cannot be reached.');
      });
  }, []);

  async function submit(e: Event) {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const client = (form.elements.namedItem('client') as HTMLSelectElement).value;
    const userName = (form.elements.namedItem('userName') as HTMLInputElement).value.trim();
    setBusy(true);
    setError(null);
    try {
      const input: Record<string, unknown> = { client, userName: userName || null, returnTo: `${location.origin}/` };
      if (tokenId) input.tokenId = tokenId;
      const d = await gql<{ startConnect: { authorizationUrl: string } }>(START, { input });
      location.assign(d.startConnect.authorizationUrl);
    } catch (err) {
      setBusy(false);
      if (err instanceof ApiError && err.code === 'UNAUTHENTICATED') return onSignedOut('Your session has ended: sign in again.');
      if (err instanceof ApiError && err.code === 'BAD_USER_INPUT' && err.message.startsWith('returnTo') && session.publicUrl) {
        // The provider comes back through the gateway's public URL, which sends the browser on only to an allowed origin.
        const publicOrigin = new URL(session.publicUrl).origin;
        if (publicOrigin !== location.origin) {
          return setError(
            <>
              This dashboard is open at {location.origin}, a different origin than the gateway’s public URL ({publicOrigin}): open it at{' '}
              <a href={`${publicOrigin}/`}>{`${publicOrigin}/`}</a> to connect an account.
            </>,
          );
        }
      }
      setError(err instanceof ApiError ? `${err.message} (${err.code})` : 'The gateway cannot be reached.');
    }
  }

  const chosen = clients ? preselected(clients, token) : null;

  return (
    <main id="main" tabIndex={-1}>
      <p>
        <a href={tokenId ? href(`/tokens/${encodeURIComponent(tokenId)}`) : href('/')}>← Back</a>
      </p>
      <h1>{tokenId ? 'Reconnect' : 'Connect an account'}</h1>
      <p>You will be sent to the provider to sign in and consent, then brought back here.</p>
      {error && <Notice kind="error">{error}</Notice>}
      {clients && clients.length === 0 && (
        <Notice kind="info">No OAuth client is registered yet: an admin adds one with the saveClient mutation (see the README, "Connect an account").</Notice>
      )}
      {clients && clients.length > 0 && (
        <form onSubmit={submit} class="connect">
          {tokenId && chosen === null && (
            <Notice kind="info">
              No registered client has this connection’s client id{token?.clientId ? ` (${token.clientId})` : ''}: choose the client to reconnect it through.
            </Notice>
          )}
          <label for="client">OAuth client</label>
          <select id="client" name="client" required>
            {chosen === null && (
              <option value="" disabled selected>
                Choose a client…
              </option>
            )}
            {clients.map((c) => (
              <option key={c.name} value={c.name} selected={c.name === chosen}>
                {c.name} ({c.provider})
              </option>
            ))}
          </select>
          <label for="userName">User name</label>
          <input id="userName" name="userName" type="email" defaultValue={route.params.get('user') ?? ''} placeholder="ana@example.com" required={!tokenId} />
          <button type="submit" class="primary" disabled={busy}>
            {busy ? 'Opening the provider…' : 'Continue to the provider'}
          </button>
        </form>
      )}
    </main>
  );
}

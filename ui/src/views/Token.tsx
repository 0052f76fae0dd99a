import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError, canAct, gql, isAdmin, type Session } from '../api';
import { readableSecrets } from '../../../src/roles';
import { Confirm, Notice, StatusBadge } from '../components';
import { absolute, budgetWords, errorWords, providerLabel, relative, retryWords, type BudgetLike } from '../format';
import { href, navigate } from '../router';
import { TOKEN_ROW_FIELDS, type TokenRow } from '../queries';

interface TokenDetail extends TokenRow {
  clientId: string | null;
  redirectUrl: string | null;
  apiDomain: string | null;
  hasAccessToken: boolean;
  hasRefreshToken: boolean;
  hasGrantToken: boolean;
  createdAt: string;
  updatedAt: string;
  budget: BudgetLike | null;
  throttledUntil: string | null;
}
interface AuditEntry {
  id: string;
  at: string;
  action: string;
  actorRole: string;
  actorName: string;
  outcome: string;
  errorCode: string | null;
  fields: string[];
  detail: string | null;
  count: number;
}
interface AuditPage {
  nodes: AuditEntry[];
  endCursor: string | null;
  hasNextPage: boolean;
}

const DETAIL = `query Token($id: ID!) { tokenById(id: $id) { ${TOKEN_ROW_FIELDS} clientId redirectUrl apiDomain hasAccessToken hasRefreshToken hasGrantToken createdAt updatedAt throttledUntil
  budget { accessTokensLeft accessTokensPerWindow windowSeconds resetsAt nextAt } } }`;
const AUDIT = `query Audit($id: ID!, $after: String) { auditLog(tokenId: $id, first: 20, after: $after) {
  nodes { id at action actorRole actorName outcome errorCode fields detail count } endCursor hasNextPage } }`;
const REFRESH = `mutation Refresh($id: ID!) { refresh(id: $id, force: true) { id status expiresAt lastRefreshedAt lastError } }`;
const REVOKE = `mutation Revoke($id: ID!) { revokeToken(id: $id) }`;

const SECRET_LABEL: Record<string, string> = {
  accessToken: 'Access token',
  refreshToken: 'Refresh token',
  clientSecret: 'Client secret',
  grantToken: 'Grant token',
};

/** When the governor lets the next access token be minted: its next slot, else (nothing counted as free) when the whole budget is back. */
function nextMint(budget: BudgetLike | null): string | null {
  if (!budget) return null;
  return budget.nextAt ?? (budget.accessTokensLeft === 0 ? budget.resetsAt : null);
}

export function TokenView({ id, session, onSignedOut }: { id: string; session: Session; onSignedOut: (reason?: string) => void }) {
  const [token, setToken] = useState<TokenDetail | null | undefined>(undefined);
  const [secrets, setSecrets] = useState<Record<string, string | null> | null>(null);
  const [audit, setAudit] = useState<AuditEntry[]>([]);
  const [auditNext, setAuditNext] = useState<string | null>(null);
  const [message, setMessage] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const [confirm, setConfirm] = useState<'refresh' | 'revoke' | null>(null);
  const [busy, setBusy] = useState(false);

  const fail = (err: unknown) => {
    if (err instanceof ApiError && err.code === 'UNAUTHENTICATED') return onSignedOut('Your session has ended: sign in again.');
    setMessage({ kind: 'error', text: err instanceof ApiError ? `${err.message} (${err.code})` : 'The gateway cannot be reached.' });
  };

  const load = useCallback(async () => {
    try {
      const d = await gql<{ tokenById: TokenDetail | null }>(DETAIL, { id });
      setToken(d.tokenById);
    } catch (err) {
      fail(err);
    }
  }, [id]);

  const loadAudit = useCallback(
    async (after: string | null) => {
      if (!isAdmin(session.role)) return;
      try {
        const d = await gql<{ auditLog: AuditPage }>(AUDIT, { id, after });
        setAudit((prev) => (after ? [...prev, ...d.auditLog.nodes] : d.auditLog.nodes));
        setAuditNext(d.auditLog.hasNextPage ? d.auditLog.endCursor : null);
      } catch (err) {
        fail(err);
      }
    },
    [id, session.role],
  );

  useEffect(() => {
    setSecrets(null);
    void load();
    void loadAudit(null);
  }, [load, loadAudit]);

  async function showSecrets() {
    const fields = readableSecrets(session.role);
    try {
      const d = await gql<{ tokenById: Record<string, string | null> | null }>(`query Secrets($id: ID!) { tokenById(id: $id) { ${fields.join(' ')} } }`, {
        id,
      });
      setSecrets(d.tokenById);
    } catch (err) {
      fail(err);
    }
  }

  async function run(action: 'refresh' | 'revoke') {
    setConfirm(null);
    setBusy(true);
    setMessage(null);
    try {
      if (action === 'refresh') {
        await gql(REFRESH, { id });
        setMessage({ kind: 'ok', text: 'Refreshed: a new access token is stored.' });
        setSecrets(null);
        await load();
        await loadAudit(null);
      } else {
        await gql(REVOKE, { id });
        navigate('/');
      }
    } catch (err) {
      fail(err);
      await load();
      await loadAudit(null);
    } finally {
      setBusy(false);
    }
  }

  if (token === undefined)
    return (
      <main id="main" tabIndex={-1}>
        {message ? <Notice kind="error">{message.text}</Notice> : <p>Loading…</p>}
      </main>
    );
  if (token === null)
    return (
      <main id="main" tabIndex={-1}>
        <p>
          <a href={href('/')}>← Connections</a>
        </p>
        <h1>Not found</h1>
        <p>No connection has the id {id}.</p>
      </main>
    );

  const allowed = readableSecrets(session.role);
  const rows: Array<[string, string]> = [
    ['Id', token.id],
    ['User name', token.userName ?? '—'],
    ['Provider', providerLabel(token.provider, token.accountsUrl)],
    ['Client id', token.clientId ?? '—'],
    ['Accounts server', token.accountsUrl ?? '—'],
    ['API domain', token.apiDomain ?? '—'],
    ['Redirect URL', token.redirectUrl ?? '—'],
    ['Expires', token.expiresAt ? `${relative(token.expiresAt)} (${absolute(token.expiresAt)})` : '—'],
    ['Last refresh', token.lastRefreshedAt ? `${relative(token.lastRefreshedAt)} (${absolute(token.lastRefreshedAt)})` : '—'],
    ['Budget', budgetWords(token.budget)],
    ['Created', absolute(token.createdAt)],
    ['Updated', absolute(token.updatedAt)],
  ];
  const held: Record<string, boolean> = {
    accessToken: token.hasAccessToken,
    refreshToken: token.hasRefreshToken,
    grantToken: token.hasGrantToken,
    clientSecret: true,
  };

  return (
    <main id="main" tabIndex={-1}>
      <p>
        <a href={href('/')}>← Connections</a>
      </p>
      <h1>{token.userName ?? token.id}</h1>
      <p class="status-line">
        <StatusBadge status={token.status} />
        {token.lastError && <span class="last-error">{errorWords(token.lastError)}</span>}
        {token.status === 'THROTTLED' &&
          (nextMint(token.budget) ? (
            <span class="next-mint" title={absolute(nextMint(token.budget))}>
              Next access token allowed {relative(nextMint(token.budget))}
            </span>
          ) : (
            // No count of the governor says when (none kept, or a provider without a window): the time the token is held back until.
            token.throttledUntil && (
              <span class="next-mint" title={absolute(token.throttledUntil)}>
                {retryWords(token.throttledUntil)}
              </span>
            )
          ))}
      </p>
      {message && <Notice kind={message.kind}>{message.text}</Notice>}
      {canAct(session.role) && (
        <div class="actions" role="group" aria-label="Actions">
          {token.status === 'FAILED' && (
            <a class="button primary" href={href('/connect', { tokenId: token.id, user: token.userName })}>
              Reconnect
            </a>
          )}
          <button type="button" disabled={busy} onClick={() => setConfirm('refresh')}>
            Refresh now
          </button>
          <button type="button" class="danger" disabled={busy} onClick={() => setConfirm('revoke')}>
            Revoke…
          </button>
        </div>
      )}
      {confirm === 'refresh' && (
        <Confirm
          title="Refresh this connection?"
          body="tokengate asks the provider for a new access token now. Providers limit how many they issue."
          action="Refresh"
          onConfirm={() => void run('refresh')}
          onCancel={() => setConfirm(null)}
        />
      )}
      {confirm === 'revoke' && (
        <Confirm
          title="Revoke this connection?"
          body="The refresh token is revoked at the provider and the connection is deleted. The user will have to connect again."
          action="Revoke and delete"
          danger
          onConfirm={() => void run('revoke')}
          onCancel={() => setConfirm(null)}
        />
      )}
      <h2>Details</h2>
      <dl class="fields">
        {rows.map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>{v}</dd>
          </div>
        ))}
        {Object.keys(SECRET_LABEL).map((f) => (
          <div key={f}>
            <dt>{SECRET_LABEL[f]}</dt>
            <dd class="secret">{secrets && f in secrets ? (secrets[f] ?? '—') : held[f] === false ? '—' : '••••••••'}</dd>
          </div>
        ))}
      </dl>
      {allowed.length > 0 && !secrets && (
        <button type="button" onClick={() => void showSecrets()}>
          Show secrets
        </button>
      )}
      {secrets && (
        <button type="button" onClick={() => setSecrets(null)}>
          Hide secrets
        </button>
      )}
      <h2>Audit trail</h2>
      {isAdmin(session.role) ? (
        <>
          <div class="table-wrap">
            <table class="audit">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">What</th>
                  <th scope="col">Who</th>
                  <th scope="col">Outcome</th>
                </tr>
              </thead>
              <tbody>
                {audit.map((e) => (
                  <tr key={e.id}>
                    <td title={absolute(e.at)}>{relative(e.at)}</td>
                    <td>
                      {e.action}
                      {e.fields.length > 0 && <span class="muted"> ({e.fields.join(', ')})</span>}
                      {e.count > 1 && <span class="muted"> ×{e.count}</span>}
                    </td>
                    <td>
                      {e.actorName} <span class="muted">({e.actorRole})</span>
                    </td>
                    <td>
                      {e.outcome}
                      {e.errorCode && <span class="muted"> — {errorWords(e.errorCode)}</span>}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {audit.length === 0 && <p>No entries.</p>}
          {auditNext && (
            <button type="button" onClick={() => void loadAudit(auditNext)}>
              Older entries
            </button>
          )}
        </>
      ) : (
        <p class="muted">The audit trail is shown to admins.</p>
      )}
    </main>
  );
}

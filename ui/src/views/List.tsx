import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, gql, type Session } from '../api';
import { Notice, StatusBadge } from '../components';
import { STATUSES, STATUS_LABEL, absolute, errorWords, providerLabel, relative, type Status } from '../format';
import { href, navigate, type Route } from '../router';
import { TOKEN_ROW_FIELDS, type TokenRow } from '../queries';

const PAGE = 50;
const POLL_MS = 10_000;

interface Counts {
  total: number;
  active: number;
  expiring: number;
  expired: number;
  pendingGrant: number;
  throttled: number;
  failed: number;
}
interface ListData {
  tokenCounts: Counts;
  tokens: { nodes: TokenRow[]; endCursor: string | null; hasNextPage: boolean };
}

const LIST = `query List($first: Int!, $after: String, $q: String) {
  tokenCounts { total active expiring expired pendingGrant throttled failed }
  tokens(first: $first, after: $after, userNameContains: $q) { nodes { ${TOKEN_ROW_FIELDS} } endCursor hasNextPage }
}`;

const COUNT_KEY: Record<Status, keyof Counts> = {
  ACTIVE: 'active',
  EXPIRING: 'expiring',
  EXPIRED: 'expired',
  PENDING_GRANT: 'pendingGrant',
  THROTTLED: 'throttled',
  FAILED: 'failed',
};

/** Cursors of the pages before the current one, per search: kept while the person moves between views. */
const backStack = new Map<string, string[]>();

export function ListView({ route, onSignedOut }: { session: Session; route: Route; onSignedOut: (reason?: string) => void }) {
  const q = route.params.get('q') ?? '';
  const after = route.params.get('after');
  const [data, setData] = useState<ListData | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [now, setNow] = useState(Date.now());
  const searchRef = useRef<HTMLInputElement>(null);

  const load = useCallback(async () => {
    try {
      const d = await gql<ListData>(LIST, { first: PAGE, after, q: q || null });
      setData(d);
      setNow(Date.now());
      setError(null);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'UNAUTHENTICATED') return onSignedOut('Your session has ended: sign in again.');
      setError(err instanceof ApiError ? err.message : 'The gateway cannot be reached.');
    }
  }, [q, after]);

  useEffect(() => {
    void load();
    const timer = setInterval(() => {
      if (!document.hidden) void load();
    }, POLL_MS);
    return () => clearInterval(timer);
  }, [load]);

  const stack = backStack.get(q) ?? [];

  function search(e: Event) {
    e.preventDefault();
    const value = searchRef.current!.value.trim();
    backStack.set(value, []);
    navigate('/', { q: value });
  }
  function next() {
    if (!data?.tokens.endCursor) return;
    backStack.set(q, [...stack, after ?? '']);
    navigate('/', { q, after: data.tokens.endCursor });
  }
  function previous() {
    const prev = stack.slice(0, -1);
    const target = stack[stack.length - 1] ?? '';
    backStack.set(q, prev);
    navigate('/', { q, after: target || null });
  }

  const counts = data?.tokenCounts;
  return (
    <main id="main" tabIndex={-1}>
      <h1>Connections</h1>
      {counts && (
        <ul class="counts" aria-label="Connections by status">
          <li>
            <span class="count">{counts.total}</span> total
          </li>
          {STATUSES.map((s) => (
            <li key={s}>
              <StatusBadge status={s} /> <span class="count" aria-label={`${STATUS_LABEL[s]}: ${counts[COUNT_KEY[s]]}`}>{counts[COUNT_KEY[s]]}</span>
            </li>
          ))}
        </ul>
      )}
      <form class="search" role="search" onSubmit={search}>
        <label for="q">Search by user name</label>
        <input id="q" ref={searchRef} type="search" defaultValue={q} placeholder="ana@example.com" />
        <button type="submit">Search</button>
        {q && (
          <a href={href('/')} onClick={() => backStack.set('', [])}>
            Clear
          </a>
        )}
      </form>
      {error && <Notice kind="error">{error}</Notice>}
      {data && (
        <>
          <div class="table-wrap">
            <table class="tokens">
              <caption class="sr-only">Stored connections{q ? ` matching “${q}”` : ''}</caption>
              <thead>
                <tr>
                  <th scope="col">User</th>
                  <th scope="col">Provider</th>
                  <th scope="col">Status</th>
                  <th scope="col">Expires</th>
                  <th scope="col">Last refresh</th>
                  <th scope="col">Last error</th>
                </tr>
              </thead>
              <tbody>
                {data.tokens.nodes.map((t) => (
                  <tr key={t.id}>
                    <th scope="row">
                      <a href={href(`/tokens/${encodeURIComponent(t.id)}`)}>{t.userName ?? `(no user) ${t.id}`}</a>
                    </th>
                    <td>{providerLabel(t.provider, t.accountsUrl)}</td>
                    <td>
                      <StatusBadge status={t.status} />
                    </td>
                    <td title={absolute(t.expiresAt)}>{relative(t.expiresAt, now)}</td>
                    <td title={absolute(t.lastRefreshedAt)}>{relative(t.lastRefreshedAt, now)}</td>
                    <td>{errorWords(t.lastError)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {data.tokens.nodes.length === 0 && <p>{q ? 'No connection matches this search.' : 'No connections yet.'}</p>}
          <nav class="pager" aria-label="Pages">
            <button type="button" onClick={previous} disabled={!after}>
              ← Previous
            </button>
            <span>
              Page {stack.length + 1}
              {counts && !q ? ` of ${Math.max(1, Math.ceil(counts.total / PAGE))}` : ''}
            </span>
            <button type="button" onClick={next} disabled={!data.tokens.hasNextPage}>
              Next →
            </button>
          </nav>
        </>
      )}
    </main>
  );
}

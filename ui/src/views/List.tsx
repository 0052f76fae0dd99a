import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, gql, type Session } from '../api';
import { Notice, StatusBadge } from '../components';
import { STATUSES, STATUS_LABEL, absolute, budgetHelp, budgetWords, errorWords, providerLabel, relative, type Status } from '../format';
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
interface Budget {
  accessTokensLeft: number;
  accessTokensPerWindow: number;
  windowSeconds: number;
  resetsAt: string | null;
  nextAt: string | null;
}
interface ListRow extends TokenRow {
  budget: Budget | null;
}
interface ListData {
  tokenCounts: Counts;
  tokens: { nodes: ListRow[]; endCursor: string | null; hasNextPage: boolean };
}

const LIST = `query List($first: Int!, $after: String, $q: String, $status: TokenStatus) {
  tokenCounts { total active expiring expired pendingGrant throttled failed }
  tokens(first: $first, after: $after, userNameContains: $q, status: $status) { nodes { ${TOKEN_ROW_FIELDS} budget { accessTokensLeft accessTokensPerWindow windowSeconds resetsAt nextAt } } endCursor hasNextPage }
}`;

const COUNT_KEY: Record<Status, keyof Counts> = {
  ACTIVE: 'active',
  EXPIRING: 'expiring',
  EXPIRED: 'expired',
  PENDING_GRANT: 'pendingGrant',
  THROTTLED: 'throttled',
  FAILED: 'failed',
};

/** Cursors of the pages before the current one, per search and status: kept while the person moves between views. */
const backStack = new Map<string, string[]>();
const stackKey = (q: string, status: Status | null) => `${status ?? ''}\n${q}`;

export function ListView({ route, onSignedOut }: { session: Session; route: Route; onSignedOut: (reason?: string) => void }) {
  const q = route.params.get('q') ?? '';
  const after = route.params.get('after');
  const rawStatus = route.params.get('status');
  const status = (STATUSES as readonly string[]).includes(rawStatus ?? '') ? (rawStatus as Status) : null;
  const [data, setData] = useState<ListData | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [now, setNow] = useState(Date.now());
  const searchRef = useRef<HTMLInputElement>(null);

  const load = useCallback(async () => {
    try {
      const d = await gql<ListData>(LIST, { first: PAGE, after, q: q || null, status });
      setData(d);
      setNow(Date.now());
      setError(null);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'UNAUTHENTICATED') return onSignedOut('Your session has ended: sign in again.');
      setError(err instanceof ApiError ? err.message : 'The gateway cannot be reached.');
    }
  }, [q, after, status]);

  useEffect(() => {
    void load();
    const timer = setInterval(() => {
      if (!document.hidden) void load();
    }, POLL_MS);
    return () => clearInterval(timer);
  }, [load]);

  const key = stackKey(q, status);
  const stack = backStack.get(key) ?? [];

  function search(e: Event) {
    e.preventDefault();
    const value = searchRef.current!.value.trim();
    backStack.set(stackKey(value, status), []);
    navigate('/', { q: value, status });
  }
  function next() {
    if (!data?.tokens.endCursor) return;
    backStack.set(key, [...stack, after ?? '']);
    navigate('/', { q, status, after: data.tokens.endCursor });
  }
  function previous() {
    const prev = stack.slice(0, -1);
    const target = stack[stack.length - 1] ?? '';
    backStack.set(key, prev);
    navigate('/', { q, status, after: target || null });
  }
  /** The list of one status (or of all, with null), from its first page. */
  const filterHref = (s: Status | null) => href('/', { q, status: s });
  const resetStack = (s: Status | null) => () => backStack.set(stackKey(q, s), []);
  const matching = q ? null : listedCount(data, status);

  const tokenCounts = data?.tokenCounts;
  return (
    <main id="main" tabIndex={-1}>
      <h1>Connections</h1>
      {tokenCounts && (
        <ul class="counts" aria-label="Connections by status (choose one to list only those)">
          <li>
            <a
              href={filterHref(null)}
              onClick={resetStack(null)}
              aria-current={status === null ? 'true' : undefined}
              aria-label={`Total: ${tokenCounts.total}`}
            >
              Total <span class="count">{tokenCounts.total}</span>
            </a>
          </li>
          {STATUSES.map((s) => (
            <li key={s}>
              <a
                href={filterHref(s)}
                onClick={resetStack(s)}
                aria-current={status === s ? 'true' : undefined}
                aria-label={`${STATUS_LABEL[s]}: ${tokenCounts[COUNT_KEY[s]]}`}
              >
                <StatusBadge status={s} /> <span class="count">{tokenCounts[COUNT_KEY[s]]}</span>
              </a>
            </li>
          ))}
        </ul>
      )}
      <form class="search" role="search" onSubmit={search}>
        <label for="q">Search by user name</label>
        <input id="q" ref={searchRef} type="search" defaultValue={q} placeholder="ana@example.com" />
        <button type="submit">Search</button>
        {(q || status) && (
          <a href={href('/')} onClick={() => backStack.set(stackKey('', null), [])}>
            Clear
          </a>
        )}
      </form>
      {error && <Notice kind="error">{error}</Notice>}
      {data && (
        <>
          <div class="table-wrap">
            <table class="tokens">
              <caption class="sr-only">
                Stored connections{status ? ` ${STATUS_LABEL[status].toLowerCase()}` : ''}
                {q ? ` matching “${q}”` : ''}
              </caption>
              <thead>
                <tr>
                  <th scope="col">User</th>
                  <th scope="col">Provider</th>
                  <th scope="col">Status</th>
                  <th scope="col">Expires</th>
                  <th scope="col">Last refresh</th>
                  <th scope="col">Last error</th>
                  <th scope="col">Budget</th>
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
                    <td class="budget" title={budgetHelp(t.budget, now)}>
                      {budgetWords(t.budget, now)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {data.tokens.nodes.length === 0 && <p>{q || status ? 'No connection matches this search.' : 'No connections yet.'}</p>}
          <nav class="pager" aria-label="Pages">
            <button type="button" onClick={previous} disabled={!after}>
              ← Previous
            </button>
            <span>
              Page {stack.length + 1}
              {matching !== null ? ` of ${Math.max(1, Math.ceil(matching / PAGE))}` : ''}
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

/** How many tokens the list pages through, when the counts say it (not for a search by user name). */
function listedCount(data: ListData | null, status: Status | null): number | null {
  if (!data) return null;
  const c = data.tokenCounts;
  return status === null ? c.total : c[COUNT_KEY[status]];
}

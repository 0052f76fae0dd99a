import { useEffect, useState } from 'preact/hooks';
import { canAct, currentSession, signOut, type Session } from './api';
import { Notice } from './components';
import { href, navigate, useRoute } from './router';
import { ConnectView } from './views/Connect';
import { ListView } from './views/List';
import { SignIn } from './views/SignIn';
import { TokenView } from './views/Token';

const CONNECT_ERRORS: Record<string, string> = {
  access_denied: 'The consent was declined at the provider.',
  invalid_code: 'The provider refused the authorization code; start again.',
  provider_unavailable: 'The provider could not be reached; try again.',
  accounts_server_not_allowed: 'The provider named a data center that is not allowed.',
  refresh_token_limit: 'This user already has the most refresh tokens the provider allows for this client.',
  internal: 'Something went wrong in the gateway.',
};

/** What the connect flow's redirect brought back (`?connect=ok&token=…`), read once and removed from the address bar. */
function takeConnectOutcome(): { ok: boolean; token: string | null; reason: string | null } | null {
  const params = new URLSearchParams(location.search);
  const outcome = params.get('connect');
  if (!outcome) return null;
  history.replaceState(null, '', location.pathname + location.hash);
  return { ok: outcome === 'ok', token: params.get('token'), reason: params.get('reason') };
}

export function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [reason, setReason] = useState<string | undefined>();
  const [notice, setNotice] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const route = useRoute();

  useEffect(() => {
    const outcome = takeConnectOutcome();
    if (outcome?.ok && outcome.token) {
      setNotice({ kind: 'ok', text: 'Connected: the new token is stored.' });
      navigate(`/tokens/${encodeURIComponent(outcome.token)}`, {}, true);
    } else if (outcome) {
      setNotice({ kind: 'error', text: `The connection was not made. ${CONNECT_ERRORS[outcome.reason ?? 'internal'] ?? CONNECT_ERRORS.internal}` });
    }
    currentSession()
      .then(setSession)
      .catch(() => {
        setSession(null);
        setReason('The gateway cannot be reached.');
      });
  }, []);

  const signedOut = (why?: string) => {
    setReason(why);
    setSession(null);
  };

  if (session === undefined) return <p class="loading">Loading…</p>;
  if (session === null) return <SignIn reason={reason} onSignedIn={setSession} />;

  const tokenMatch = /^\/tokens\/(.+)$/.exec(route.path);
  let view;
  if (tokenMatch) view = <TokenView key={tokenMatch[1]} id={decodeURIComponent(tokenMatch[1]!)} session={session} onSignedOut={signedOut} />;
  else if (route.path === '/connect' && canAct(session.role))
    view = <ConnectView key={route.params.get('tokenId') ?? ''} session={session} route={route} onSignedOut={signedOut} />;
  else view = <ListView session={session} route={route} onSignedOut={signedOut} />;

  return (
    <>
      <a
        class="skip"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          document.getElementById('main')?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={href('/')}>
          tokengate
        </a>
        <nav aria-label="Main">
          <a href={href('/')}>Connections</a>
          {canAct(session.role) && <a href={href('/connect')}>Connect an account</a>}
          {session.playground && <a href="/graphql">Playground</a>}
        </nav>
        <span class="who">
          {session.keyName} <span class="role">{session.role}</span>
        </span>
        <button
          type="button"
          onClick={() => {
            void signOut().then(() => signedOut('Signed out.'));
          }}
        >
          Sign out
        </button>
      </header>
      {notice && (
        <div class="banner">
          <Notice kind={notice.kind}>{notice.text}</Notice>
          <button type="button" class="link" onClick={() => setNotice(null)}>
            Dismiss
          </button>
        </div>
      )}
      {view}
    </>
  );
}

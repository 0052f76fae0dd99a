import { useState } from 'preact/hooks';
import { ApiError, signIn, type Session } from '../api';
import { Notice } from '../components';

/** Sign-in with an API key. The key goes to `/session` once and is dropped from the page. */
export function SignIn({ onSignedIn, reason }: { onSignedIn: (s: Session) => void; reason?: string }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const input = form.elements.namedItem('apiKey') as HTMLInputElement;
    const key = input.value.trim();
    if (!key) return setError('Enter an API key.');
    setBusy(true);
    setError(null);
    try {
      const session = await signIn(key);
      input.value = '';
      onSignedIn(session);
    } catch (err) {
      setError(err instanceof ApiError && err.code === 'UNAUTHENTICATED' ? 'That API key is not valid.' : 'The gateway cannot be reached; try again.');
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="signin" id="main">
      <h1>tokengate</h1>
      <p>Sign in with an API key to see and manage your connections.</p>
      {reason && <Notice kind="info">{reason}</Notice>}
      <form onSubmit={submit} autocomplete="off">
        <label for="apiKey">API key</label>
        <input id="apiKey" name="apiKey" type="password" autocomplete="off" spellcheck={false} required autofocus />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      {error && <Notice kind="error">{error}</Notice>}
      <p class="hint">
        New here? <code>npm start</code> printed where the generated admin key is kept (<code>data/admin.key</code>).
      </p>
    </main>
  );
}

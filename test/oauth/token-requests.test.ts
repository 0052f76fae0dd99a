import { authorizationCodeRequest, refreshTokenRequest, revokeRequest } from '../../src/oauth/token-requests';
import { zohoProfile } from '../../src/providers/zoho';

const zoho = zohoProfile();
const token = (accountsUrl: string) => zoho.tokenEndpoint(accountsUrl);
const revocation = (accountsUrl: string) => zoho.revocationEndpoint(accountsUrl)!;

describe('token request builders', () => {
  it('builds a refresh', () => {
    const req = refreshTokenRequest(token('https://accounts.zoho.eu'), { clientId: '1000.CID', clientSecret: 'sec', refreshToken: '1000.rt' });
    expect(req.url).toBe('https://accounts.zoho.eu/oauth/v2/token');
    expect(Object.fromEntries(req.body)).toEqual({ grant_type: 'refresh_token', client_id: '1000.CID', client_secret: 'sec', refresh_token: '1000.rt' });
  });

  it('builds a grant exchange, with redirect_uri only when known', () => {
    const withUri = authorizationCodeRequest(token('https://accounts.zoho.com/'), {
      clientId: 'c',
      clientSecret: 's',
      code: '1000.code',
      redirectUri: 'https://app.example.com/cb?x=1&y=2',
    });
    expect(withUri.url).toBe('https://accounts.zoho.com/oauth/v2/token');
    expect(Object.fromEntries(withUri.body)).toEqual({
      grant_type: 'authorization_code',
      client_id: 'c',
      client_secret: 's',
      redirect_uri: 'https://app.example.com/cb?x=1&y=2',
      code: '1000.code',
    });
    expect(withUri.body.toString()).toContain('redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb%3Fx%3D1%26y%3D2');
    for (const redirectUri of [undefined, null, '']) {
      expect(
        authorizationCodeRequest(token('https://accounts.zoho.com'), { clientId: 'c', clientSecret: 's', code: 'k', redirectUri }).body.has('redirect_uri'),
      ).toBe(false);
    }
  });

  it('builds a revocation with the token in the body, not the URL', () => {
    const req = revokeRequest(revocation('http://127.0.0.1:1234'), { token: '1000.rt' });
    expect(req.url).toBe('http://127.0.0.1:1234/oauth/v2/token/revoke');
    expect(req.body.toString()).toBe('token=1000.rt');
  });

  it('refuses an empty parameter, naming it and not echoing any value', () => {
    expect(() => refreshTokenRequest(token('https://accounts.zoho.com'), { clientId: 'c', clientSecret: 'the-secret', refreshToken: '' })).toThrow(
      new TypeError('refreshToken must be a non-empty string'),
    );
    expect(() => authorizationCodeRequest(token('https://accounts.zoho.com'), { clientId: 'c', clientSecret: '', code: 'k' })).toThrow(/^clientSecret/);
    expect(() => revokeRequest(revocation('https://accounts.zoho.com'), { token: undefined as unknown as string })).toThrow(TypeError);
  });

  it('authenticates with HTTP Basic (client_secret_basic), each part form-encoded first (RFC 6749 §2.3.1), and keeps the secret out of the body', () => {
    const req = refreshTokenRequest(
      { url: 'https://idp.example/token', clientAuth: 'client_secret_basic' },
      { clientId: 'my client', clientSecret: 'p@ss:w+rd', refreshToken: 'rt' },
    );
    expect(req.url).toBe('https://idp.example/token');
    expect(Object.fromEntries(req.body)).toEqual({ grant_type: 'refresh_token', refresh_token: 'rt' });
    expect(req.headers.authorization).toBe(`Basic ${Buffer.from('my+client:p%40ss%3Aw%2Brd').toString('base64')}`);
  });

  it('sends a PKCE verifier with a grant exchange only when given, and authenticates a revocation only when asked', () => {
    const endpoint = { url: 'https://idp.example/token', clientAuth: 'client_secret_post' as const };
    expect(authorizationCodeRequest(endpoint, { clientId: 'c', clientSecret: 's', code: 'k', codeVerifier: 'v'.repeat(43) }).body.get('code_verifier')).toBe(
      'v'.repeat(43),
    );
    expect(authorizationCodeRequest(endpoint, { clientId: 'c', clientSecret: 's', code: 'k' }).body.has('code_verifier')).toBe(false);
    const revoke = revokeRequest(
      { url: 'https://idp.example/revoke', clientAuth: 'client_secret_basic' },
      { token: 'rt', tokenTypeHint: 'refresh_token', client: { clientId: 'c', clientSecret: 's' } },
    );
    expect(revoke.body.toString()).toBe('token=rt&token_type_hint=refresh_token');
    expect(revoke.headers.authorization).toMatch(/^Basic /);
  });
});

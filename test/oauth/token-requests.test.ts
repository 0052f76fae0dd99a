import { authorizationCodeRequest, refreshTokenRequest, revokeRequest } from '../../src/oauth/token-requests';

describe('token request builders', () => {
  it('builds a refresh', () => {
    const req = refreshTokenRequest('https://accounts.zoho.eu', { clientId: '1000.CID', clientSecret: 'sec', refreshToken: '1000.rt' });
    expect(req.url).toBe('https://accounts.zoho.eu/oauth/v2/token');
    expect(Object.fromEntries(req.body)).toEqual({ grant_type: 'refresh_token', client_id: '1000.CID', client_secret: 'sec', refresh_token: '1000.rt' });
  });

  it('builds a grant exchange, with redirect_uri only when known', () => {
    const withUri = authorizationCodeRequest('https://accounts.zoho.com/', {
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
      expect(authorizationCodeRequest('https://accounts.zoho.com', { clientId: 'c', clientSecret: 's', code: 'k', redirectUri }).body.has('redirect_uri')).toBe(
        false,
      );
    }
  });

  it('builds a revocation with the token in the body, not the URL', () => {
    const req = revokeRequest('http://127.0.0.1:1234', { token: '1000.rt' });
    expect(req.url).toBe('http://127.0.0.1:1234/oauth/v2/token/revoke');
    expect(req.body.toString()).toBe('token=1000.rt');
  });

  it('refuses an empty parameter, naming it and not echoing any value', () => {
    expect(() => refreshTokenRequest('https://accounts.zoho.com', { clientId: 'c', clientSecret: 'the-secret', refreshToken: '' })).toThrow(
      new TypeError('refreshToken must be a non-empty string'),
    );
    expect(() => authorizationCodeRequest('https://accounts.zoho.com', { clientId: 'c', clientSecret: '', code: 'k' })).toThrow(/^clientSecret/);
    expect(() => revokeRequest('https://accounts.zoho.com', { token: undefined as unknown as string })).toThrow(TypeError);
  });
});

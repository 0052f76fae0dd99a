import { inspect } from 'node:util';
import { InvalidResponseError, OAuthError, ProviderRefusedError, UpstreamUnavailableError, redactBody } from '../../src/oauth/oauth-errors';
import { MAX_EXPIRES_IN_SECONDS, parseExpiresIn, processRevokeResponse, processTokenResponse } from '../../src/oauth/token-response';

const sentAt = new Date('2030-01-01T00:00:00.000Z');
const ACCESS = '1000.access-secret-value';
const REFRESH = '1000.refresh-secret-value';

function thrown(fn: () => unknown): OAuthError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OAuthError);
    return err as OAuthError;
  }
  throw new Error('expected a throw');
}

describe('processTokenResponse: success', () => {
  it('reads a Zoho refresh answer; expiresAt counts from sentAt', () => {
    const grant = processTokenResponse(
      200,
      JSON.stringify({ access_token: ACCESS, api_domain: 'https://www.zohoapis.eu', token_type: 'Bearer', expires_in: 3600 }),
      sentAt,
    );
    expect(grant).toEqual({ accessToken: ACCESS, expiresAt: new Date(sentAt.getTime() + 3600_000), apiDomain: 'https://www.zohoapis.eu', tokenType: 'Bearer' });
    expect(grant.refreshToken).toBeUndefined();
  });

  it('reads a grant exchange answer with its refresh_token', () => {
    const grant = processTokenResponse(
      200,
      JSON.stringify({ access_token: ACCESS, refresh_token: REFRESH, api_domain: 'https://www.zohoapis.com', token_type: 'Bearer', expires_in: 3600 }),
      sentAt,
    );
    expect(grant.refreshToken).toBe(REFRESH);
  });

  it('takes expires_in_sec, and prefers it over expires_in (older Zoho answers gave expires_in in ms)', () => {
    expect(processTokenResponse(200, JSON.stringify({ access_token: ACCESS, expires_in_sec: 1800 }), sentAt).expiresAt).toEqual(
      new Date(sentAt.getTime() + 1800_000),
    );
    expect(processTokenResponse(200, JSON.stringify({ access_token: ACCESS, expires_in: 3600000, expires_in_sec: 3600 }), sentAt).expiresAt).toEqual(
      new Date(sentAt.getTime() + 3600_000),
    );
  });

  it('takes a numeric string lifetime', () => {
    expect(processTokenResponse(200, JSON.stringify({ access_token: ACCESS, expires_in: '600' }), sentAt).expiresAt).toEqual(
      new Date(sentAt.getTime() + 600_000),
    );
  });

  it('defaults token_type to Bearer, treats null optional fields as absent, normalizes api_domain to an origin', () => {
    const grant = processTokenResponse(
      200,
      JSON.stringify({ access_token: ACCESS, expires_in: 60, refresh_token: null, api_domain: 'https://www.zohoapis.com/' }),
      sentAt,
    );
    expect(grant).toEqual({ accessToken: ACCESS, expiresAt: new Date(sentAt.getTime() + 60_000), tokenType: 'Bearer', apiDomain: 'https://www.zohoapis.com' });
  });

  it('accepts a success on any 2xx', () => {
    expect(processTokenResponse(201, JSON.stringify({ access_token: ACCESS, expires_in: 60 }), sentAt).accessToken).toBe(ACCESS);
  });
});

describe('processTokenResponse: refusals', () => {
  it('an error key in an HTTP 200 is a refusal (Zoho)', () => {
    const err = thrown(() => processTokenResponse(200, '{"error":"invalid_code"}', sentAt));
    expect(err).toBeInstanceOf(ProviderRefusedError);
    expect(err).toMatchObject({ code: 'PROVIDER_REFUSED', oauthError: 'invalid_code', permanent: true, status: 200 });
  });

  it.each([400, 401, 403])('an error body with HTTP %i is a refusal (other providers)', (status) => {
    const err = thrown(() =>
      processTokenResponse(status, JSON.stringify({ error: 'invalid_client', error_description: 'Client authentication failed' }), sentAt),
    );
    expect(err).toBeInstanceOf(ProviderRefusedError);
    expect(err).toMatchObject({ oauthError: 'invalid_client', permanent: true, status });
  });

  it('an error key wins over an access_token in the same body', () => {
    const err = thrown(() => processTokenResponse(200, JSON.stringify({ error: 'invalid_code', access_token: ACCESS, expires_in: 60 }), sentAt));
    expect(err).toBeInstanceOf(ProviderRefusedError);
  });

  it("access_denied (Zoho's rate limit) is a back-off, not permanent", () => {
    const err = thrown(() => processTokenResponse(200, '{"error":"access_denied"}', sentAt)) as ProviderRefusedError;
    expect(err.permanent).toBe(false);
  });

  it('an error code that is not a plain code is not repeated', () => {
    const err = thrown(() => processTokenResponse(200, JSON.stringify({ error: `bad token ${REFRESH}` }), sentAt)) as ProviderRefusedError;
    expect(err.oauthError).toBe('unknown_error');
    expect(err.message).not.toContain(REFRESH);
    expect(thrown(() => processTokenResponse(200, JSON.stringify({ error: { nested: true } }), sentAt))).toMatchObject({ oauthError: 'unknown_error' });
  });

  it("server_error and temporarily_unavailable are the provider's trouble, not a verdict on the token", () => {
    for (const code of ['server_error', 'temporarily_unavailable']) {
      const err = thrown(() => processTokenResponse(200, JSON.stringify({ error: code }), sentAt));
      expect(err).toBeInstanceOf(UpstreamUnavailableError);
      expect(err).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', reason: 'provider_unavailable' });
    }
  });
});

describe('processTokenResponse: no usable answer', () => {
  it('a 5xx is http_5xx, whatever the body', () => {
    for (const body of ['<html>Bad Gateway</html>', '{"error":"invalid_code"}', '']) {
      const err = thrown(() => processTokenResponse(502, body, sentAt));
      expect(err).toBeInstanceOf(UpstreamUnavailableError);
      expect(err).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', reason: 'http_5xx', status: 502 });
    }
  });

  it.each([200, 400, 404])('a body that is not JSON (HTTP %i) is not_json', (status) => {
    const err = thrown(() => processTokenResponse(status, '<html><body>maintenance</body></html>', sentAt));
    expect(err).toMatchObject({ reason: 'not_json', status });
  });

  it('HTTP 429 without an error code is rate_limited', () => {
    expect(thrown(() => processTokenResponse(429, '{}', sentAt))).toMatchObject({ reason: 'rate_limited' });
  });
});

describe('processTokenResponse: invalid answers', () => {
  const invalid = (status: number, body: unknown) => thrown(() => processTokenResponse(status, JSON.stringify(body), sentAt));

  it('a missing or empty access_token', () => {
    for (const body of [{ expires_in: 60 }, { access_token: '', expires_in: 60 }, { access_token: 42, expires_in: 60 }]) {
      const err = invalid(200, body);
      expect(err).toBeInstanceOf(InvalidResponseError);
      expect(err).toBeInstanceOf(UpstreamUnavailableError);
      expect(err).toMatchObject({ code: 'INVALID_RESPONSE', reason: 'invalid_response', field: 'access_token' });
    }
  });

  it('a missing or unusable lifetime', () => {
    for (const lifetime of [
      {},
      { expires_in: 0 },
      { expires_in: -5 },
      { expires_in: 'soon' },
      { expires_in: '1e3' },
      { expires_in: null },
      { expires_in: MAX_EXPIRES_IN_SECONDS + 1 },
    ]) {
      expect(invalid(200, { access_token: ACCESS, ...lifetime })).toMatchObject({ code: 'INVALID_RESPONSE', field: 'expires_in' });
    }
    expect(invalid(200, { access_token: ACCESS, expires_in: 3600, expires_in_sec: 'x' })).toMatchObject({ field: 'expires_in_sec' });
  });

  it('optional fields of the wrong type', () => {
    expect(invalid(200, { access_token: ACCESS, expires_in: 60, refresh_token: '' })).toMatchObject({ field: 'refresh_token' });
    expect(invalid(200, { access_token: ACCESS, expires_in: 60, token_type: 7 })).toMatchObject({ field: 'token_type' });
    expect(invalid(200, { access_token: ACCESS, expires_in: 60, api_domain: 'javascript:alert(1)' })).toMatchObject({ field: 'api_domain' });
  });

  it('JSON that is not an object, and an unexpected status', () => {
    for (const body of [null, [], 'text', 42]) expect(invalid(200, body)).toBeInstanceOf(InvalidResponseError);
    expect(invalid(307, {})).toMatchObject({ code: 'INVALID_RESPONSE', status: 307 });
    // A redirect is a misconfigured accounts URL, never a transient not_json, whatever its body.
    expect(thrown(() => processTokenResponse(302, '<html>Moved</html>', sentAt))).toMatchObject({ code: 'INVALID_RESPONSE', status: 302 });
    expect(thrown(() => processTokenResponse(308, '', sentAt))).toMatchObject({ code: 'INVALID_RESPONSE', status: 308 });
    expect(invalid(404, {})).toMatchObject({ code: 'INVALID_RESPONSE', status: 404 });
  });

  it('rejects a bad sentAt or status as a programming error', () => {
    expect(() => processTokenResponse(200, '{}', new Date(NaN))).toThrow(TypeError);
    expect(() => processTokenResponse(42, '{}', sentAt)).toThrow(TypeError);
  });
});

describe('errors keep the raw answer out of sight', () => {
  it('the body is non-enumerable, redacted, and absent from JSON.stringify, inspect and the message', () => {
    const body = JSON.stringify({ access_token: ACCESS, refresh_token: REFRESH, expires_in: 'never' });
    const err = thrown(() => processTokenResponse(200, body, sentAt));
    expect(Object.keys(err)).not.toContain('response');
    expect(err.response?.status).toBe(200);
    expect(err.response?.body).toContain('[redacted]');
    for (const text of [err.message, JSON.stringify(err), inspect(err), err.response!.body]) {
      expect(text).not.toContain(ACCESS);
      expect(text).not.toContain(REFRESH);
    }
  });

  it('redacts a form-encoded body too (a provider answering application/x-www-form-urlencoded)', () => {
    const body = `access_token=${encodeURIComponent(ACCESS)}&scope=ZohoCRM.modules.ALL&refresh_token=${encodeURIComponent(REFRESH)}&expires_in=never`;
    const err = thrown(() => processTokenResponse(200, body, sentAt));
    expect(err).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', reason: 'not_json' });
    expect(err.response!.body).toBe('access_token=[redacted]&scope=ZohoCRM.modules.ALL&refresh_token=[redacted]&expires_in=never');
    for (const text of [err.message, JSON.stringify(err), inspect(err), err.response!.body]) {
      expect(text).not.toContain(ACCESS);
      expect(text).not.toContain(REFRESH);
    }
  });

  it.each([
    [
      'every secret field of a token request',
      'grant_type=authorization_code&code=1000.grant-code&client_id=1000.ID&client_secret=s3cr%26t&code_verifier=v-e-r&redirect_uri=https%3A%2F%2Fx.example%2Fcb',
      'grant_type=authorization_code&code=[redacted]&client_id=1000.ID&client_secret=[redacted]&code_verifier=[redacted]&redirect_uri=https%3A%2F%2Fx.example%2Fcb',
    ],
    ['a percent-encoded or +-spaced key', 'access%5Ftoken=abc&client+secret=def&scope=a+b', 'access%5Ftoken=[redacted]&client+secret=[redacted]&scope=a+b'],
    ['pairs quoted in a text body', 'Bad request: ?code=1000.xyz&state=s1 was refused\n', 'Bad request: ?code=[redacted]&state=s1 was refused\n'],
    [
      'a token-like key with an empty value, and a lone key',
      'refresh_token=&access_token&error=invalid_grant',
      'refresh_token=&access_token&error=invalid_grant',
    ],
    ['; as a separator, and a key that is not a secret', 'id_token=eyJ.x.y;error=invalid_request', 'id_token=[redacted];error=invalid_request'],
    ['plain text', 'Service Unavailable', 'Service Unavailable'],
  ])('redactBody: %s', (_what, body, kept) => {
    expect(redactBody(body)).toBe(kept);
  });

  it('keeps at most 2 KiB of a body', () => {
    const err = thrown(() => processTokenResponse(503, 'x'.repeat(100_000), sentAt));
    expect(err.response!.body.length).toBeLessThanOrEqual(2049);
  });
});

describe('parseExpiresIn', () => {
  it('reads positive seconds as numbers or decimal strings', () => {
    expect(parseExpiresIn(3600)).toBe(3600);
    expect(parseExpiresIn(' 3600 ')).toBe(3600);
    expect(parseExpiresIn('1.5')).toBe(1.5);
    expect(parseExpiresIn(Infinity)).toBeNull();
    expect(parseExpiresIn('0x10')).toBeNull();
    expect(parseExpiresIn(undefined)).toBeNull();
  });
});

describe('processRevokeResponse', () => {
  it('a 2xx with an empty body or JSON without error is a success', () => {
    expect(() => processRevokeResponse(200, '')).not.toThrow();
    expect(() => processRevokeResponse(204, '')).not.toThrow();
    expect(() => processRevokeResponse(200, '{"status":"success"}')).not.toThrow();
  });

  it('classifies failures like the token endpoint', () => {
    expect(thrown(() => processRevokeResponse(200, '{"error":"invalid_code"}'))).toMatchObject({ code: 'PROVIDER_REFUSED', oauthError: 'invalid_code' });
    expect(thrown(() => processRevokeResponse(400, '{"error":"unsupported_token_type"}'))).toMatchObject({ oauthError: 'unsupported_token_type' });
    expect(thrown(() => processRevokeResponse(500, ''))).toMatchObject({ reason: 'http_5xx' });
    expect(thrown(() => processRevokeResponse(200, '<html/>'))).toMatchObject({ reason: 'not_json' });
    expect(thrown(() => processRevokeResponse(404, ''))).toMatchObject({ code: 'INVALID_RESPONSE' });
    expect(thrown(() => processRevokeResponse(429, ''))).toMatchObject({ reason: 'rate_limited' });
  });
});

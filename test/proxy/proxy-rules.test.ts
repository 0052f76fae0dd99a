import { ZOHO_DATA_CENTERS } from '../../src/oauth/data-centers';
import { oauth2Profile } from '../../src/providers/oauth2';
import { parseProviderDefinition } from '../../src/providers/provider-definition';
import { zohoProfile } from '../../src/providers/zoho';
import { ApiHostPolicy } from '../../src/proxy/api-hosts';
import { authorizationFor, forwardedRequestHeaders, isInvalidTokenAnswer, returnedResponseHeaders } from '../../src/proxy/proxy-headers';
import { parseApiTarget, prefixCovers, requestTarget } from '../../src/proxy/proxy-path';

describe('API proxy rules', () => {
  it("allows every Zoho data center's API domains (production, sandbox, developer) and the configured origins, nothing else", () => {
    const policy = new ApiHostPolicy(['https://crm.example.com', 'http://127.0.0.1:8443']);
    for (const dc of ZOHO_DATA_CENTERS) {
      const base = new URL(dc.apiDomain).hostname.replace(/^www\./, '');
      for (const host of [`www.${base}`, `sandbox.${base}`, `developer.${base}`])
        expect(policy.target(`https://${host}`)).toEqual({ ok: true, origin: `https://${host}`, url: new URL(`https://${host}`) });
      expect(policy.target(dc.apiDomain.toUpperCase()).ok).toBe(true);
      expect(policy.target(dc.apiDomain.replace('https:', 'http:')).ok).toBe(false);
      expect(policy.target(`${dc.apiDomain}:8443`).ok).toBe(false);
    }
    expect(policy.target('https://crm.example.com').ok).toBe(true);
    expect(policy.target('http://127.0.0.1:8443').ok).toBe(true);
    for (const refused of [
      'http://127.0.0.1:8444',
      'https://crm.example.com:444',
      'https://www.zohoapis.com.evil.example',
      'https://user:pw@www.zohoapis.com',
      'https://www.zohoapis.com/crm',
      'not a url',
      null,
      '',
    ]) {
      const r = policy.target(refused);
      expect([refused, r.ok]).toEqual([refused, false]);
    }
  });

  it('splits /api/{tokenId}/{path}?query and refuses dot segments, encoded slashes and dots, empty segments', () => {
    expect(parseApiTarget('/api/42/crm/v8/Leads?fields=a,b')).toEqual({ ok: true, tokenId: '42', path: '/crm/v8/Leads', query: '?fields=a,b' });
    expect(parseApiTarget('/api/42')).toEqual({ ok: true, tokenId: '42', path: '/', query: '' });
    expect(parseApiTarget('/api/42/crm/v8/Leads/')).toMatchObject({ ok: true, path: '/crm/v8/Leads/' });
    expect(parseApiTarget('/api/a%20b/crm').ok).toBe(false);
    for (const p of ['/..', '/crm/..', '/crm/../x', '/./x', '/crm/%2F', '/crm/%2f', '/crm/%5C', '/crm/%2E%2E', '/crm//x', '/crm\\x', '/crm x']) {
      expect([p, parseApiTarget(`/api/42${p}`).ok]).toEqual([p, false]);
    }
  });

  it('sends the path and query the way a URL parsed from origin + path + query would: the origin is not parsed again', () => {
    const origin = 'https://www.zohoapis.com';
    const whatwg = (path: string, query: string) => {
      const u = new URL(`${origin}${path}${query}`);
      return `${u.pathname}${u.search}`;
    };
    const chars = [...Array.from({ length: 0x7f - 0x21 }, (_, i) => String.fromCharCode(0x21 + i)), '\u00e9', '\u00ff', '\u0080'];
    let compared = 0;
    for (const c of chars) {
      for (const [path, query] of [
        [`/crm/v8/a${c}b`, ''],
        ['/crm', `?criteria=(Last_Name:equals:O${c}Brien)&x=${c}`],
      ] as const) {
        const parsed = parseApiTarget(`/api/42${path}${query}`);
        if (!parsed.ok) continue;
        compared += 1;
        expect([c, requestTarget(parsed.path, parsed.query)]).toEqual([c, whatwg(parsed.path, parsed.query)]);
      }
    }
    expect(compared).toBeGreaterThan(150);
    expect(requestTarget('/crm/v8/Leads', "?criteria=(Last_Name:equals:O'Brien)")).toBe('/crm/v8/Leads?criteria=(Last_Name:equals:O%27Brien)');
    expect(requestTarget('/crm/v8/Leads/', '?fields=a,b&page=1')).toBe('/crm/v8/Leads/?fields=a,b&page=1');
  });

  it('matches path prefixes whole segment by segment', () => {
    expect(prefixCovers('/crm/v8/Leads', '/crm/v8/Leads')).toBe(true);
    expect(prefixCovers('/crm/v8/Leads', '/crm/v8/Leads/123')).toBe(true);
    expect(prefixCovers('/crm/v8/Leads', '/crm/v8/LeadsX')).toBe(false);
    expect(prefixCovers('/crm/v8/Leads', '/crm/v8')).toBe(false);
    expect(prefixCovers('/', '/anything/at/all')).toBe(true);
  });

  it('forwards no caller credentials, origin or hop-by-hop headers; returns no cookies or CORS headers of the provider', () => {
    expect(
      forwardedRequestHeaders({
        authorization: 'Bearer k',
        cookie: 'a=b',
        forwarded: 'for=x',
        'x-forwarded-for': '1.2.3.4',
        'x-real-ip': 'x',
        connection: 'close, x-secret',
        'x-secret': 's',
        te: 'trailers',
        'transfer-encoding': 'chunked',
        'keep-alive': '5',
        host: 'gw',
        origin: 'https://a',
        accept: 'application/json',
        'if-none-match': '"e"',
        'x-custom': '1',
      }),
    ).toEqual({ accept: 'application/json', 'if-none-match': '"e"', 'x-custom': '1' });
    expect(
      returnedResponseHeaders({
        'set-cookie': ['a=b'],
        'access-control-allow-origin': '*',
        'x-ratelimit-remaining': '9',
        'retry-after': '30',
        'transfer-encoding': 'chunked',
        connection: 'keep-alive',
        'content-type': 'application/json',
        'www-authenticate': 'Bearer',
      }),
    ).toEqual({ 'x-ratelimit-remaining': '9', 'retry-after': '30', 'content-type': 'application/json', 'www-authenticate': 'Bearer' });
  });

  it("takes the auth scheme from the token's provider profile: Zoho-oauthtoken for Zoho tokens, Bearer for generic providers", () => {
    expect(authorizationFor(zohoProfile(), 'abc')).toBe('Zoho-oauthtoken abc');
    expect(authorizationFor(zohoProfile({ accessTokensPerWindow: 2 }), 'abc')).toBe('Zoho-oauthtoken abc');
    const github = oauth2Profile(parseProviderDefinition({ name: 'github', tokenUrl: 'https://github.com/login/oauth/access_token' }));
    expect(authorizationFor(github, 'abc')).toBe('Bearer abc');
    const post = oauth2Profile(parseProviderDefinition({ name: 'acme', tokenUrl: 'https://idp.example.com/token', clientAuthMethod: 'client_secret_post' }));
    expect(authorizationFor(post, 'abc')).toBe('Bearer abc');
  });

  it('tells an invalid token from other 401s', () => {
    const body = (v: unknown) => Buffer.from(JSON.stringify(v));
    expect(isInvalidTokenAnswer(401, {}, body({ code: 'INVALID_OAUTHTOKEN', status: 'error' }))).toBe(true);
    expect(isInvalidTokenAnswer(401, {}, body({ code: 'INVALID_TOKEN' }))).toBe(true);
    expect(isInvalidTokenAnswer(401, {}, body({ data: [{ code: 'INVALID_TOKEN' }] }))).toBe(true);
    expect(isInvalidTokenAnswer(401, { 'www-authenticate': 'Bearer realm="x", error="invalid_token"' }, Buffer.alloc(0))).toBe(true);
    expect(isInvalidTokenAnswer(401, {}, body({ code: 'OAUTH_SCOPE_MISMATCH' }))).toBe(false);
    expect(isInvalidTokenAnswer(403, {}, body({ code: 'INVALID_TOKEN' }))).toBe(false);
    expect(isInvalidTokenAnswer(401, {}, Buffer.from('<html>'))).toBe(false);
  });
});

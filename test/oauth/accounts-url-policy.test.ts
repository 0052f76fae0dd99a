import { AccountsUrlPolicy, normalizeAccountsUrl } from '../../src/oauth/accounts-url-policy';
import { ZOHO_ACCOUNTS_URLS } from '../../src/oauth/data-centers';
import { AccountsUrlNotAllowedError } from '../../src/oauth/oauth-errors';

function refusal(fn: () => unknown): AccountsUrlNotAllowedError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AccountsUrlNotAllowedError);
    expect((err as AccountsUrlNotAllowedError).code).toBe('ACCOUNTS_URL_NOT_ALLOWED');
    return err as AccountsUrlNotAllowedError;
  }
  throw new Error('expected a refusal');
}

describe('normalizeAccountsUrl', () => {
  it.each([
    ['https://accounts.zoho.eu', 'https://accounts.zoho.eu'],
    ['https://accounts.zoho.eu/', 'https://accounts.zoho.eu'],
    ['  HTTPS://Accounts.ZOHO.eu:443/ ', 'https://accounts.zoho.eu'],
    ['http://127.0.0.1:8080', 'http://127.0.0.1:8080'],
    ['http://localhost:80/', 'http://localhost'],
  ])('%j → %j', (raw, origin) => {
    expect(normalizeAccountsUrl(raw)).toBe(origin);
  });

  it('refuses credentials, naming the origin only', () => {
    const err = refusal(() => normalizeAccountsUrl('https://accounts.zoho.eu@evil.com'));
    expect(err.origin).toBe('https://evil.com');
    const withSecret = refusal(() => normalizeAccountsUrl('https://admin:s3cr3t-value@accounts.zoho.eu'));
    expect(withSecret.message).toContain('https://accounts.zoho.eu');
    expect(withSecret.message).not.toContain('s3cr3t-value');
  });

  it.each([
    ['a query', 'https://accounts.zoho.eu/?refresh_token=1000.secret-value'],
    ['an empty query', 'https://accounts.zoho.eu?'],
    ['a fragment', 'https://accounts.zoho.eu/#1000.secret-value'],
    ['an empty fragment', 'https://accounts.zoho.eu#'],
    ['a path', 'https://accounts.zoho.eu/oauth/v2/token'],
    ['a backslash path', 'https://accounts.zoho.eu\\@evil.com'],
  ])('refuses %s, never echoing it', (_what, raw) => {
    const err = refusal(() => normalizeAccountsUrl(raw));
    expect(err.message).toContain('https://accounts.zoho.eu');
    expect(err.message).not.toContain('secret-value');
    expect(err.message).not.toContain('evil');
  });

  it.each(['ftp://accounts.zoho.eu', 'javascript:alert(1)', 'file:///etc/passwd', 'accounts.zoho.eu', '1000.secret-value', ''])(
    'refuses %j, which is not an http(s) URL, without echoing it',
    (raw) => {
      const err = refusal(() => normalizeAccountsUrl(raw));
      expect(err.origin).toBeNull();
      if (raw) expect(err.message).not.toContain(raw);
    },
  );
});

describe('AccountsUrlPolicy', () => {
  const policy = new AccountsUrlPolicy({ defaultAccountsUrl: 'https://accounts.zoho.com', allowed: ZOHO_ACCOUNTS_URLS });

  it('always allows the default, normalized, without duplicates', () => {
    const p = new AccountsUrlPolicy({ defaultAccountsUrl: 'http://127.0.0.1:9999/', allowed: ['https://accounts.zoho.eu/', 'HTTPS://ACCOUNTS.ZOHO.EU'] });
    expect(p.defaultAccountsUrl).toBe('http://127.0.0.1:9999');
    expect(p.allowed).toEqual(['https://accounts.zoho.eu', 'http://127.0.0.1:9999']);
    expect(p.assertAllowed('http://127.0.0.1:9999')).toBe('http://127.0.0.1:9999');
  });

  it('refuses a malformed configuration at construction', () => {
    expect(() => new AccountsUrlPolicy({ defaultAccountsUrl: 'https://accounts.zoho.com/path', allowed: [] })).toThrow(TypeError);
    expect(() => new AccountsUrlPolicy({ defaultAccountsUrl: 'https://accounts.zoho.com', allowed: ['nope'] })).toThrow(/allowed\[0\]/);
  });

  describe('resolve: the one given, else the data center of apiDomain, else the default', () => {
    it('takes accountsUrl first, even when apiDomain names another data center', () => {
      expect(policy.resolve({ accountsUrl: 'https://accounts.zoho.in/', apiDomain: 'https://www.zohoapis.eu' })).toBe('https://accounts.zoho.in');
    });

    it('else the data center that apiDomain names, sandbox and developer included', () => {
      expect(policy.resolve({ apiDomain: 'https://www.zohoapis.eu' })).toBe('https://accounts.zoho.eu');
      expect(policy.resolve({ apiDomain: 'https://sandbox.zohoapis.eu' })).toBe('https://accounts.zoho.eu');
      expect(policy.resolve({ accountsUrl: null, apiDomain: 'https://developer.zohoapis.com' })).toBe('https://accounts.zoho.com');
      expect(policy.resolve({ apiDomain: 'https://www.zohoapis.com.au' })).toBe('https://accounts.zoho.com.au');
    });

    it('else the default (no hint, or an API domain of another provider)', () => {
      expect(policy.resolve({})).toBe('https://accounts.zoho.com');
      expect(policy.resolve({ accountsUrl: undefined, apiDomain: null })).toBe('https://accounts.zoho.com');
      expect(policy.resolve({ apiDomain: 'https://api.example.com' })).toBe('https://accounts.zoho.com');
    });

    it('refuses a data center the operator left off the allow-list instead of replacing it', () => {
      const euOnly = new AccountsUrlPolicy({ defaultAccountsUrl: 'https://accounts.zoho.eu', allowed: [] });
      expect(refusal(() => euOnly.resolve({ apiDomain: 'https://www.zohoapis.in' })).origin).toBe('https://accounts.zoho.in');
      expect(euOnly.resolve({ apiDomain: 'https://sandbox.zohoapis.eu' })).toBe('https://accounts.zoho.eu');
    });

    it('refuses an empty accountsUrl rather than reading it as absent', () => {
      refusal(() => policy.resolve({ accountsUrl: '' }));
    });
  });

  describe('assertAllowed compares the normalized origin exactly', () => {
    it.each([
      'https://accounts.zoho.eu.evil.com',
      'https://accounts.zoho.eu@evil.com',
      'https://evil.com#@accounts.zoho.eu',
      'https://evil.com?accounts.zoho.eu',
      'http://accounts.zoho.eu',
      'https://accounts.zoho.eu:444',
      'https://accounts.zoho.eu.',
      'https://xaccounts.zoho.eu',
      'https://accounts.zoho.eu/oauth/v2/token',
      'https://accounts.zoho.eu%2F@evil.com',
    ])('refuses %j', (raw) => {
      const err = refusal(() => policy.assertAllowed(raw));
      expect(policy.isAllowed(raw)).toBe(false);
      if (err.origin) expect(err.message).toContain(err.origin);
    });

    it('accepts an allowed origin in any spelling and returns it normalized', () => {
      expect(policy.assertAllowed('HTTPS://accounts.ZOHO.eu:443/')).toBe('https://accounts.zoho.eu');
      expect(policy.isAllowed('https://accounts.zohocloud.ca')).toBe(true);
    });

    it('names the origin only in its message', () => {
      const err = refusal(() => policy.assertAllowed('https://evil.com/'));
      expect(err.message).toBe('the accounts URL https://evil.com is not on the allow-list (TOKENGATE_ALLOWED_ACCOUNTS_URLS)');
    });
  });
});

import { accountsUrlForApiDomain, ZOHO_ACCOUNTS_URLS, ZOHO_DATA_CENTERS } from '../../src/oauth/data-centers';

describe('Zoho data centers', () => {
  it("has the nine data centers of Zoho's multi-DC list, the United Kingdom included", () => {
    expect(ZOHO_DATA_CENTERS.map((dc) => dc.code)).toEqual(['US', 'EU', 'IN', 'CN', 'AU', 'JP', 'CA', 'SA', 'UK']);
    expect(ZOHO_ACCOUNTS_URLS).toEqual([
      'https://accounts.zoho.com',
      'https://accounts.zoho.eu',
      'https://accounts.zoho.in',
      'https://accounts.zoho.com.cn',
      'https://accounts.zoho.com.au',
      'https://accounts.zoho.jp',
      'https://accounts.zohocloud.ca',
      'https://accounts.zoho.sa',
      'https://accounts.zoho.uk',
    ]);
    expect(Object.isFrozen(ZOHO_ACCOUNTS_URLS)).toBe(true);
  });

  it.each(ZOHO_DATA_CENTERS.map((dc) => [dc.apiDomain, dc.accountsUrl]))('maps %s to %s', (apiDomain, accountsUrl) => {
    expect(accountsUrlForApiDomain(apiDomain)).toBe(accountsUrl);
  });

  it('maps sandbox. and developer. domains to the same data center', () => {
    expect(accountsUrlForApiDomain('https://sandbox.zohoapis.eu')).toBe('https://accounts.zoho.eu');
    expect(accountsUrlForApiDomain('https://developer.zohoapis.com')).toBe('https://accounts.zoho.com');
    expect(accountsUrlForApiDomain('https://sandbox.zohoapis.com.cn')).toBe('https://accounts.zoho.com.cn');
    expect(accountsUrlForApiDomain('https://developer.zohoapis.ca')).toBe('https://accounts.zohocloud.ca');
    expect(accountsUrlForApiDomain('https://sandbox.zohoapis.uk')).toBe('https://accounts.zoho.uk');
  });

  it('tolerates case, a trailing slash, a path and a bare host', () => {
    expect(accountsUrlForApiDomain('HTTPS://WWW.ZohoApis.Com.AU/')).toBe('https://accounts.zoho.com.au');
    expect(accountsUrlForApiDomain('https://www.zohoapis.in/crm/v2')).toBe('https://accounts.zoho.in');
    expect(accountsUrlForApiDomain('www.zohoapis.jp')).toBe('https://accounts.zoho.jp');
  });

  it('does not confuse com with com.cn or com.au', () => {
    expect(accountsUrlForApiDomain('https://www.zohoapis.com.cn')).toBe('https://accounts.zoho.com.cn');
    expect(accountsUrlForApiDomain('https://www.zohoapis.com')).toBe('https://accounts.zoho.com');
  });

  it.each([
    'https://www.zohoapis.eu.evil.com',
    'https://evilzohoapis.com',
    'https://www.zohoapis.com.',
    'https://api.example.com',
    'http://www.zohoapis.com',
    'https://www.zohoapis.com:8443',
    'https://user:pw@www.zohoapis.com',
    'https://zohoapis.com',
    'https://other.zohoapis.com',
    'not a url',
    '',
  ])('returns null for %j', (apiDomain) => {
    expect(accountsUrlForApiDomain(apiDomain)).toBeNull();
  });
});

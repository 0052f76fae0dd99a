import { loadConfig } from '../src/config';
import { ConfigError } from '../src/errors';

const fails = (env: Record<string, string>, variable: string) => {
  let err: unknown;
  try {
    loadConfig(env);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as ConfigError).variable).toBe(variable);
  expect((err as Error).message.startsWith(`${variable}: `)).toBe(true);
  expect((err as Error).message).not.toContain('\n');
  return (err as Error).message;
};

describe('loadConfig', () => {
  it('has the defaults of the contract', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      host: '127.0.0.1',
      port: 4000,
      store: 'sqlite',
      mysqlTable: 'oauthtoken',
      apiKeys: null,
      encryptionKeys: null,
      accountsUrl: 'https://accounts.zoho.com',
      refreshAheadSeconds: 300,
      refreshCheckSeconds: 30,
      corsOrigins: [],
      bodyLimitBytes: 1024 * 1024,
      playground: true,
    });
    expect(c.dataDir).toMatch(/\/data$/);
    expect(c.sqlitePath).toBe(`${c.dataDir}/tokengate.db`);
    expect(c.allowedAccountsUrls).toEqual(expect.arrayContaining(['https://accounts.zoho.com', 'https://accounts.zoho.eu', 'https://accounts.zohocloud.ca']));
  });

  it('turns the playground off in production unless asked', () => {
    expect(loadConfig({ NODE_ENV: 'production' }).playground).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production', TOKENGATE_PLAYGROUND: 'on' }).playground).toBe(true);
    expect(loadConfig({ TOKENGATE_PLAYGROUND: 'off' }).playground).toBe(false);
  });

  it('parses keys, lists and sizes', () => {
    const c = loadConfig({
      TOKENGATE_API_KEYS: 'admin:aaaaaaaaaaaaaaaa1, operator:crm-sync:bbbbbbbbbbbbbbbb2,viewer:cccccccccccccccc3',
      TOKENGATE_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
      TOKENGATE_CORS_ORIGINS: 'https://app.example.com, http://localhost:3000',
      TOKENGATE_BODY_LIMIT: '512kb',
      TOKENGATE_ACCOUNTS_URL: 'http://127.0.0.1:9999/',
      TOKENGATE_STORE: 'mysql',
      TOKENGATE_MYSQL_URL: 'mysql://u:p@db:3306/tg',
    });
    expect(c.apiKeys).toEqual([
      { role: 'admin', name: 'admin-1', key: 'aaaaaaaaaaaaaaaa1' },
      { role: 'operator', name: 'crm-sync', key: 'bbbbbbbbbbbbbbbb2' },
      { role: 'viewer', name: 'viewer-1', key: 'cccccccccccccccc3' },
    ]);
    expect(c.encryptionKeys).toHaveLength(1);
    expect(c.corsOrigins).toEqual(['https://app.example.com', 'http://localhost:3000']);
    expect(c.bodyLimitBytes).toBe(512 * 1024);
    expect(c.accountsUrl).toBe('http://127.0.0.1:9999');
    expect(c.allowedAccountsUrls).toContain('http://127.0.0.1:9999');
  });

  it.each([
    [{ TOKENGATE_PORT: 'eighty' }, 'TOKENGATE_PORT'],
    [{ TOKENGATE_PORT: '70000' }, 'TOKENGATE_PORT'],
    [{ TOKENGATE_STORE: 'postgres' }, 'TOKENGATE_STORE'],
    [{ TOKENGATE_STORE: 'mysql' }, 'TOKENGATE_MYSQL_URL'],
    [{ TOKENGATE_MYSQL_URL: 'postgres://x/y' }, 'TOKENGATE_MYSQL_URL'],
    [{ TOKENGATE_MYSQL_TABLE: 'x; DROP TABLE y' }, 'TOKENGATE_MYSQL_TABLE'],
    [{ TOKENGATE_API_KEYS: 'root:aaaaaaaaaaaaaaaaaaaa' }, 'TOKENGATE_API_KEYS'],
    [{ TOKENGATE_API_KEYS: 'admin:short' }, 'TOKENGATE_API_KEYS'],
    [{ TOKENGATE_API_KEYS: 'admin:aaaaaaaaaaaaaaaa,viewer:aaaaaaaaaaaaaaaa' }, 'TOKENGATE_API_KEYS'],
    [{ TOKENGATE_ENCRYPTION_KEY: 'dG9vIHNob3J0' }, 'TOKENGATE_ENCRYPTION_KEY'],
    [{ TOKENGATE_ACCOUNTS_URL: 'accounts.zoho.com' }, 'TOKENGATE_ACCOUNTS_URL'],
    [{ TOKENGATE_ALLOWED_ACCOUNTS_URLS: 'https://ok.example,https://x.example/path' }, 'TOKENGATE_ALLOWED_ACCOUNTS_URLS'],
    [{ TOKENGATE_REFRESH_AHEAD_SECONDS: '-1' }, 'TOKENGATE_REFRESH_AHEAD_SECONDS'],
    [{ TOKENGATE_REFRESH_AHEAD_SECONDS: '3600' }, 'TOKENGATE_REFRESH_AHEAD_SECONDS'],
    [{ TOKENGATE_REFRESH_CHECK_SECONDS: '1.5' }, 'TOKENGATE_REFRESH_CHECK_SECONDS'],
    [{ TOKENGATE_CORS_ORIGINS: '*' }, 'TOKENGATE_CORS_ORIGINS'],
    [{ TOKENGATE_BODY_LIMIT: 'huge' }, 'TOKENGATE_BODY_LIMIT'],
    [{ TOKENGATE_PLAYGROUND: 'maybe' }, 'TOKENGATE_PLAYGROUND'],
  ])('refuses %p naming %s', (env, variable) => {
    fails(env as Record<string, string>, variable);
  });

  it('reads the API proxy settings', () => {
    expect(loadConfig({}).proxy).toEqual({
      allowedApiHosts: [],
      bodyLimitBytes: 50 * 1024 ** 2,
      replayLimitBytes: 1024 ** 2,
      timeoutMs: 60_000,
      credentialKey: null,
    });
    const key = Buffer.alloc(32, 7).toString('base64');
    const c = loadConfig({
      TOKENGATE_ALLOWED_API_HOSTS: 'https://crm.example.com, http://127.0.0.1:8443,https://API.example.org:8443/',
      TOKENGATE_PROXY_BODY_LIMIT: '200mb',
      TOKENGATE_PROXY_REPLAY_LIMIT: '64kb',
      TOKENGATE_PROXY_TIMEOUT_MS: '5000',
      TOKENGATE_PROXY_CREDENTIAL_KEY: key,
    });
    expect(c.proxy).toEqual({
      allowedApiHosts: ['https://crm.example.com', 'http://127.0.0.1:8443', 'https://api.example.org:8443'],
      bodyLimitBytes: 200 * 1024 ** 2,
      replayLimitBytes: 64 * 1024,
      timeoutMs: 5000,
      credentialKey: Buffer.from(key, 'base64'),
    });
    // A replay limit over the body limit is the body limit.
    expect(loadConfig({ TOKENGATE_PROXY_BODY_LIMIT: '10kb', TOKENGATE_PROXY_REPLAY_LIMIT: '1mb' }).proxy.replayLimitBytes).toBe(10 * 1024);
    expect(fails({ TOKENGATE_ALLOWED_API_HOSTS: 'http://crm.example.com' }, 'TOKENGATE_ALLOWED_API_HOSTS')).toContain('loopback');
    fails({ TOKENGATE_ALLOWED_API_HOSTS: 'https://crm.example.com/api' }, 'TOKENGATE_ALLOWED_API_HOSTS');
    fails({ TOKENGATE_PROXY_REPLAY_LIMIT: '65mb' }, 'TOKENGATE_PROXY_REPLAY_LIMIT');
    fails({ TOKENGATE_PROXY_BODY_LIMIT: '2gb' }, 'TOKENGATE_PROXY_BODY_LIMIT');
    fails({ TOKENGATE_PROXY_TIMEOUT_MS: '10' }, 'TOKENGATE_PROXY_TIMEOUT_MS');
    expect(fails({ TOKENGATE_PROXY_CREDENTIAL_KEY: 'c2hvcnQta2V5' }, 'TOKENGATE_PROXY_CREDENTIAL_KEY')).not.toContain('c2hvcnQta2V5');
  });

  it('never repeats a secret value in its error', () => {
    expect(fails({ TOKENGATE_API_KEYS: 'admin:secretpassword!' + '\u0001' }, 'TOKENGATE_API_KEYS')).not.toContain('secretpassword');
    expect(fails({ TOKENGATE_MYSQL_URL: 'mysql//user:hunter2@db' }, 'TOKENGATE_MYSQL_URL')).not.toContain('hunter2');
  });

  it('reads the connect flow settings: the public URL, the return origins (the public URL always one) and the TTL', () => {
    expect(loadConfig({}).connect).toEqual({ publicUrl: null, returnOrigins: [], ttlSeconds: 600 });
    const c = loadConfig({
      TOKENGATE_PUBLIC_URL: 'https://Tokens.Example.com/',
      TOKENGATE_CONNECT_RETURN_ORIGINS: 'https://app.example.com, http://localhost:3000',
      TOKENGATE_CONNECT_TTL_SECONDS: '1',
    });
    expect(c.connect).toEqual({
      publicUrl: 'https://tokens.example.com',
      returnOrigins: ['https://tokens.example.com', 'https://app.example.com', 'http://localhost:3000'],
      ttlSeconds: 1,
    });
    expect(loadConfig({ TOKENGATE_PUBLIC_URL: 'http://127.0.0.1:4000' }).connect.publicUrl).toBe('http://127.0.0.1:4000');
  });

  it.each([
    [{ TOKENGATE_PUBLIC_URL: 'tokens.example.com' }, 'TOKENGATE_PUBLIC_URL'],
    [{ TOKENGATE_PUBLIC_URL: 'https://tokens.example.com/gateway' }, 'TOKENGATE_PUBLIC_URL'],
    [{ TOKENGATE_PUBLIC_URL: 'http://tokens.example.com' }, 'TOKENGATE_PUBLIC_URL'],
    [{ TOKENGATE_PUBLIC_URL: 'https://user:pw@tokens.example.com' }, 'TOKENGATE_PUBLIC_URL'],
    [{ TOKENGATE_CONNECT_RETURN_ORIGINS: 'https://app.example.com' }, 'TOKENGATE_PUBLIC_URL'],
    [{ TOKENGATE_PUBLIC_URL: 'https://t.example.com', TOKENGATE_CONNECT_RETURN_ORIGINS: '*' }, 'TOKENGATE_CONNECT_RETURN_ORIGINS'],
    [
      { TOKENGATE_PUBLIC_URL: 'https://t.example.com', TOKENGATE_CONNECT_RETURN_ORIGINS: 'https://app.example.com/settings' },
      'TOKENGATE_CONNECT_RETURN_ORIGINS',
    ],
    [{ TOKENGATE_PUBLIC_URL: 'https://t.example.com', TOKENGATE_CONNECT_RETURN_ORIGINS: 'http://app.example.com' }, 'TOKENGATE_CONNECT_RETURN_ORIGINS'],
    [{ TOKENGATE_CONNECT_TTL_SECONDS: '0' }, 'TOKENGATE_CONNECT_TTL_SECONDS'],
    [{ TOKENGATE_CONNECT_TTL_SECONDS: 'ten' }, 'TOKENGATE_CONNECT_TTL_SECONDS'],
  ])('refuses the connect setting %p naming %s, in one line', (env, variable) => {
    fails(env as Record<string, string>, variable);
  });
});

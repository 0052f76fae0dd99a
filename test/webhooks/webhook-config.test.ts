import { loadConfig } from '../../src/config';
import { ConfigError } from '../../src/errors';

const fails = (env: Record<string, string>, variable: string) => {
  const err = (() => {
    try {
      loadConfig(env);
      return null;
    } catch (e) {
      return e;
    }
  })();
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as ConfigError).variable).toBe(variable);
  return (err as ConfigError).message;
};

describe('webhook and audit configuration', () => {
  it('has no webhook by default, and keeps the audit trail 90 days', () => {
    const c = loadConfig({});
    expect(c.webhook).toBeNull();
    expect(c.auditRetentionDays).toBe(90);
    expect(loadConfig({ TOKENGATE_AUDIT_RETENTION_DAYS: '0' }).auditRetentionDays).toBe(0);
  });

  it('takes a URL with its secret, and documented defaults', () => {
    const c = loadConfig({ TOKENGATE_WEBHOOK_URL: 'https://hooks.example.com/tokengate?x=1', TOKENGATE_WEBHOOK_SECRET: 'a-secret-of-24-characters' });
    expect(c.webhook).toEqual({
      url: 'https://hooks.example.com/tokengate?x=1',
      secret: 'a-secret-of-24-characters',
      failingAfterSeconds: 900,
      maxAttempts: 8,
      backoffMs: 1000,
      timeoutMs: 5000,
    });
  });

  it('refuses a URL without a secret, a short secret, and bad values, naming the variable and never echoing the secret', () => {
    fails({ TOKENGATE_WEBHOOK_URL: 'https://hooks.example.com/x' }, 'TOKENGATE_WEBHOOK_SECRET');
    expect(fails({ TOKENGATE_WEBHOOK_URL: 'https://h.example/x', TOKENGATE_WEBHOOK_SECRET: 'short-secret' }, 'TOKENGATE_WEBHOOK_SECRET')).not.toContain(
      'short-secret',
    );
    fails({ TOKENGATE_WEBHOOK_URL: 'ftp://hooks.example.com/x', TOKENGATE_WEBHOOK_SECRET: 'a-secret-of-24-characters' }, 'TOKENGATE_WEBHOOK_URL');
    expect(
      fails(
        { TOKENGATE_WEBHOOK_URL: 'https://user:pw-123@hooks.example.com/x', TOKENGATE_WEBHOOK_SECRET: 'a-secret-of-24-characters' },
        'TOKENGATE_WEBHOOK_URL',
      ),
    ).not.toContain('pw-123');
    const ok = { TOKENGATE_WEBHOOK_URL: 'https://h.example/x', TOKENGATE_WEBHOOK_SECRET: 'a-secret-of-24-characters' };
    fails({ ...ok, TOKENGATE_WEBHOOK_MAX_ATTEMPTS: '0' }, 'TOKENGATE_WEBHOOK_MAX_ATTEMPTS');
    fails({ ...ok, TOKENGATE_WEBHOOK_FAILING_AFTER_SECONDS: 'soon' }, 'TOKENGATE_WEBHOOK_FAILING_AFTER_SECONDS');
    fails({ TOKENGATE_AUDIT_RETENTION_DAYS: '-1' }, 'TOKENGATE_AUDIT_RETENTION_DAYS');
  });
});

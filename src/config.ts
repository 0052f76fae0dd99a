import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from './errors';
import { ZOHO_ACCOUNTS_URLS } from './oauth/data-centers';
import { ROLES, type Role } from './roles';

/**
 * The whole configuration of a gateway process, read from the environment in
 * one place (`loadConfig`). Every variable of `shared/spec/graphql-api.md` is
 * here, plus a few tuning knobs with safe defaults. An invalid value is a
 * `ConfigError` whose message is one line naming the variable.
 */
export interface Config {
  host: string;
  port: number;
  store: 'sqlite' | 'mysql' | 'memory';
  dataDir: string;
  sqlitePath: string;
  mysqlUrl: string | null;
  mysqlTable: string;
  mysqlPoolSize: number;
  /** Parsed `role:key` entries, or null to use the generated admin key. */
  apiKeys: ApiKeyEntry[] | null;
  /** Base64 keys, newest (used for writes) first; null to use the generated key file. */
  encryptionKeys: Buffer[] | null;
  accountsUrl: string;
  allowedAccountsUrls: string[];
  refreshAheadSeconds: number;
  refreshCheckSeconds: number;
  refreshLeaseSeconds: number;
  upstreamTimeoutMs: number;
  corsOrigins: string[];
  bodyLimitBytes: number;
  playground: boolean;
  production: boolean;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** `json` (one JSON object a line, for collectors) or `pretty` (one readable line, for a terminal). */
  logFormat: 'json' | 'pretty';
  maxQueryCost: number;
  maxQueryDepth: number;
  maxAliases: number;
  /** Audit entries older than this many days are pruned; 0 keeps them forever. */
  auditRetentionDays: number;
  /** Where webhook events go; null when `TOKENGATE_WEBHOOK_URL` is unset. */
  webhook: WebhookConfig | null;
  /** The API proxy (`/api/{tokenId}/{path}`). */
  proxy: ProxyConfig;
  /** `TOKENGATE_PROVIDERS_FILE`: a JSON array of providers loaded at start (it wins over the database for its names); null when unset. */
  providersFile: string | null;
  /** The connect flow (`shared/spec/connect.md`). */
  connect: ConnectConfig;
}

export interface ConnectConfig {
  /** `TOKENGATE_PUBLIC_URL`: the gateway's external origin; the OAuth callback is `{publicUrl}/oauth/callback`. Null: no connect flow. */
  publicUrl: string | null;
  /** `TOKENGATE_CONNECT_RETURN_ORIGINS`: the origins a connect may send the browser back to (the public URL's own origin is always one). */
  returnOrigins: string[];
  /** `TOKENGATE_CONNECT_TTL_SECONDS`: how long a started connect waits for its callback. */
  ttlSeconds: number;
}

export interface ProxyConfig {
  /** Origins the proxy may call besides every Zoho data center's API domains (`TOKENGATE_ALLOWED_API_HOSTS`). */
  allowedApiHosts: string[];
  /** Largest request body forwarded (`TOKENGATE_PROXY_BODY_LIMIT`). */
  bodyLimitBytes: number;
  /** Request bodies up to this size are buffered, so the request can be replayed once after a refresh (`TOKENGATE_PROXY_REPLAY_LIMIT`). */
  replayLimitBytes: number;
  /** How long the provider may take to start answering, and to send the next bytes of a body (`TOKENGATE_PROXY_TIMEOUT_MS`). */
  timeoutMs: number;
  /** The key proxy credentials are signed with; null to use the generated key file (`TOKENGATE_PROXY_CREDENTIAL_KEY`). */
  credentialKey: Buffer | null;
}

export interface WebhookConfig {
  url: string;
  /** The HMAC-SHA256 key of the `Tokengate-Signature` header. */
  secret: string;
  /** `token.refresh_failing` once refreshes of a token have failed transiently for this long. */
  failingAfterSeconds: number;
  /** Delivery attempts of one event (the first included). */
  maxAttempts: number;
  /** The first retry's delay; each next one doubles (with jitter), at most a minute. */
  backoffMs: number;
  /** Timeout of one delivery attempt. */
  timeoutMs: number;
}

export { ROLES, type Role };

export interface ApiKeyEntry {
  role: Role;
  /** A name for logs and audit; defaults to `<role>-<n>`. Never the key. */
  name: string;
  key: string;
}

type Env = Record<string, string | undefined>;

const intIn = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be between ${min} and ${max}`);

const onOff = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ['on', 'off', 'true', 'false', '1', '0'].includes(v), 'must be on or off')
  .transform((v) => v === 'on' || v === 'true' || v === '1');

const list = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

/** `1mb`, `512kb`, `2048` (bytes), between `min` and `max` bytes. */
const sizeIn = (min: number, max: number, range: string) =>
  z
    .string()
    .trim()
    .toLowerCase()
    .regex(/^\d+(\.\d+)?\s*(b|kb|mb|gb)?$/, 'must be a size such as 1mb, 512kb or 2048')
    .transform((v) => {
      const m = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/.exec(v)!;
      const unit = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }[(m[2] ?? 'b') as 'b'];
      return Math.floor(Number(m[1]) * unit);
    })
    .refine((n) => n >= min && n <= max, `must be between ${range}`);

const byteSize = sizeIn(1024, 64 * 1024 ** 2, '1kb and 64mb');

/** Loopback hosts, the only ones an API origin may reach over plain http. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** Comma-separated API origins: https, or http for a loopback host. */
const apiHostList = z.string().transform((v, ctx) => {
  const out: string[] = [];
  for (const item of list(v)) {
    const r = originOf('https://crm.example.com').safeParse(item);
    if (!r.success) {
      ctx.addIssue({ code: 'custom', message: r.error.issues[0]!.message });
      return z.NEVER;
    }
    const u = new URL(r.data);
    if (u.protocol === 'http:' && !isLoopbackHost(u.hostname)) {
      ctx.addIssue({ code: 'custom', message: `"${item}": plain http is allowed only for a loopback host (127.0.0.1, ::1, localhost); use https` });
      return z.NEVER;
    }
    out.push(r.data);
  }
  return out;
});

/** An origin that is https, or http for a loopback host (a browser is sent there with an authorization code or an outcome). */
const httpsOrigin = (example: string) =>
  z.string().transform((v, ctx) => {
    const r = originOf(example).safeParse(v);
    if (!r.success) {
      ctx.addIssue({ code: 'custom', message: r.error.issues[0]!.message });
      return z.NEVER;
    }
    const u = new URL(r.data);
    if (u.protocol === 'http:' && !isLoopbackHost(u.hostname)) {
      ctx.addIssue({ code: 'custom', message: `"${v.trim()}": plain http is allowed only for a loopback host (127.0.0.1, ::1, localhost); use https` });
      return z.NEVER;
    }
    return r.data;
  });

/** Comma-separated origins, each https (or http for a loopback host). */
const httpsOriginList = (example: string) =>
  z.string().transform((v, ctx) => {
    const out: string[] = [];
    for (const item of list(v)) {
      const r = httpsOrigin(example).safeParse(item);
      if (!r.success) {
        ctx.addIssue({ code: 'custom', message: r.error.issues[0]!.message });
        return z.NEVER;
      }
      out.push(r.data);
    }
    return out;
  });

/** A secret of at least 32 bytes, in base64. */
const credentialKey = z.string().transform((v, ctx) => {
  const b64 = v.trim();
  const key = /^[A-Za-z0-9+/_-]+={0,2}$/.test(b64) ? Buffer.from(b64, 'base64') : Buffer.alloc(0);
  if (key.length < 32) {
    ctx.addIssue({ code: 'custom', message: 'must be at least 32 bytes in base64 (e.g. the output of: openssl rand -base64 32)' });
    return z.NEVER;
  }
  return key;
});

/** An http(s) origin such as `example`; returns it normalized (`scheme://host[:port]`). */
const originOf = (example: string) =>
  z.string().transform((v, ctx) => {
    try {
      const u = new URL(v.trim());
      if ((u.protocol !== 'https:' && u.protocol !== 'http:') || u.username || u.password || u.search || u.hash || (u.pathname !== '/' && u.pathname !== '')) {
        throw new Error();
      }
      return u.origin;
    } catch {
      ctx.addIssue({ code: 'custom', message: `"${v.trim()}" is not an http(s) origin such as ${example}` });
      return z.NEVER;
    }
  });

/** A comma-separated list of origins. */
const originList = (example: string) =>
  z.string().transform((v, ctx) => {
    const out: string[] = [];
    for (const item of list(v)) {
      const r = originOf(example).safeParse(item);
      if (!r.success) {
        ctx.addIssue({ code: 'custom', message: r.error.issues[0]!.message });
        return z.NEVER;
      }
      out.push(r.data);
    }
    return out;
  });

const ACCOUNTS_EXAMPLE = 'https://accounts.zoho.com';

const apiKeys = z.string().transform((v, ctx) => {
  const entries: ApiKeyEntry[] = [];
  const counts: Record<string, number> = {};
  for (const [i, raw] of list(v).entries()) {
    // role:key or role:name:key (a key never contains ':'; names are for the audit trail).
    const parts = raw.split(':');
    const role = parts[0] as Role;
    if (!ROLES.includes(role) || parts.length < 2 || parts.length > 3) {
      ctx.addIssue({ code: 'custom', message: `entry ${i + 1} must be role:key with role one of ${ROLES.join(', ')}` });
      return z.NEVER;
    }
    const key = parts[parts.length - 1]!;
    if (key.length < 16 || !/^[\x21-\x7e]+$/.test(key)) {
      ctx.addIssue({ code: 'custom', message: `entry ${i + 1} (${role}): the key must be at least 16 printable characters` });
      return z.NEVER;
    }
    counts[role] = (counts[role] ?? 0) + 1;
    const name = parts.length === 3 ? parts[1]! : `${role}-${counts[role]}`;
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
      ctx.addIssue({ code: 'custom', message: `entry ${i + 1}: a key name may hold letters, digits, _ . - (at most 64)` });
      return z.NEVER;
    }
    entries.push({ role, name, key });
  }
  if (entries.length === 0) {
    ctx.addIssue({ code: 'custom', message: 'holds no key' });
    return z.NEVER;
  }
  if (new Set(entries.map((e) => e.key)).size !== entries.length) {
    ctx.addIssue({ code: 'custom', message: 'the same key is listed twice' });
    return z.NEVER;
  }
  return entries;
});

/** An http(s) URL without credentials in it (the signature authenticates; userinfo would end up in logs). */
const webhookUrl = z.string().transform((v, ctx) => {
  try {
    const u = new URL(v.trim());
    if ((u.protocol !== 'https:' && u.protocol !== 'http:') || u.username || u.password || u.hash) throw new Error();
    return u.toString();
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be an http(s) URL such as https://hooks.example.com/tokengate, without user:password@' });
    return z.NEVER;
  }
});

/** Comma-separated base64 keys of 32 bytes, newest first. */
export const encryptionKeyList = z.string().transform((v, ctx) => {
  const keys = list(v).map((entry) => {
    const b64 = entry.includes(':') ? entry.slice(entry.lastIndexOf(':') + 1) : entry;
    return /^[A-Za-z0-9+/_-]+={0,2}$/.test(b64) ? Buffer.from(b64, 'base64') : Buffer.alloc(0);
  });
  if (keys.length === 0 || keys.some((k) => k.length !== 32)) {
    ctx.addIssue({ code: 'custom', message: 'must be 32 bytes in base64 (e.g. the output of: openssl rand -base64 32), comma-separated for rotation' });
    return z.NEVER;
  }
  return keys;
});

const tableName = z
  .string()
  .trim()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,47}$/, 'must be a plain table name: letters, digits and _, at most 48, not starting with a digit');

const mysqlUrl = z.string().transform((v, ctx) => {
  try {
    const u = new URL(v.trim());
    if (u.protocol !== 'mysql:' && u.protocol !== 'mariadb:') throw new Error();
    if (!u.hostname || u.pathname.length <= 1) throw new Error();
    return v.trim();
  } catch {
    // Never echo the value: it may hold a password.
    ctx.addIssue({ code: 'custom', message: 'must look like mysql://user:password@host:3306/database' });
    return z.NEVER;
  }
});

function read<T>(env: Env, variable: string, schema: z.ZodType<T, string>, fallback: T): T {
  const raw = env[variable];
  if (raw === undefined || raw.trim() === '') return fallback;
  const result = schema.safeParse(raw);
  if (!result.success) throw new ConfigError(variable, result.error.issues[0]?.message ?? 'is invalid');
  return result.data;
}

/**
 * Reads and validates the configuration. Throws `ConfigError` on the first
 * invalid variable. Pure: reads only `env`, touches no file.
 */
export function loadConfig(env: Env = process.env): Config {
  const production = env.NODE_ENV === 'production';
  const dataDir = path.resolve(read(env, 'TOKENGATE_DATA_DIR', z.string().trim(), './data'));
  const store = read(env, 'TOKENGATE_STORE', z.enum(['sqlite', 'mysql', 'memory'], { message: 'must be sqlite, mysql or memory' }), 'sqlite');
  const url = read<string | null>(env, 'TOKENGATE_MYSQL_URL', mysqlUrl, null);
  if (store === 'mysql' && !url) throw new ConfigError('TOKENGATE_MYSQL_URL', 'is required when TOKENGATE_STORE=mysql');
  const accountsUrl = read(env, 'TOKENGATE_ACCOUNTS_URL', originOf(ACCOUNTS_EXAMPLE), ACCOUNTS_EXAMPLE);
  const allowed = read(env, 'TOKENGATE_ALLOWED_ACCOUNTS_URLS', originList(ACCOUNTS_EXAMPLE), [...ZOHO_ACCOUNTS_URLS]);
  const refreshAheadSeconds = read(env, 'TOKENGATE_REFRESH_AHEAD_SECONDS', intIn(0, 1800), 300);
  const refreshCheckSeconds = read(env, 'TOKENGATE_REFRESH_CHECK_SECONDS', intIn(0, 3600), 30);
  const hookUrl = read<string | null>(env, 'TOKENGATE_WEBHOOK_URL', webhookUrl, null);
  const hookSecret = read<string | null>(
    env,
    'TOKENGATE_WEBHOOK_SECRET',
    z
      .string()
      .trim()
      .regex(/^[\x21-\x7e]{16,256}$/, 'must be 16 to 256 printable characters'),
    null,
  );
  if (hookUrl && !hookSecret)
    throw new ConfigError('TOKENGATE_WEBHOOK_SECRET', 'is required when TOKENGATE_WEBHOOK_URL is set (16+ printable characters; e.g. openssl rand -hex 32)');
  const proxyBodyLimit = read(env, 'TOKENGATE_PROXY_BODY_LIMIT', sizeIn(0, 1024 ** 3, '0 and 1gb'), 50 * 1024 ** 2);
  const publicUrl = read<string | null>(env, 'TOKENGATE_PUBLIC_URL', httpsOrigin('https://tokens.example.com'), null);
  const returnOrigins = read(env, 'TOKENGATE_CONNECT_RETURN_ORIGINS', httpsOriginList('https://app.example.com'), []);
  if (returnOrigins.length > 0 && !publicUrl) {
    throw new ConfigError(
      'TOKENGATE_PUBLIC_URL',
      'is required when TOKENGATE_CONNECT_RETURN_ORIGINS is set (the external origin of the gateway, e.g. https://tokens.example.com)',
    );
  }
  const proxyReplayLimit = read(env, 'TOKENGATE_PROXY_REPLAY_LIMIT', sizeIn(0, 64 * 1024 ** 2, '0 and 64mb (replayable bodies are held in memory)'), 1024 ** 2);

  return {
    host: read(env, 'TOKENGATE_HOST', z.string().trim().min(1), '127.0.0.1'),
    port: read(env, 'TOKENGATE_PORT', intIn(0, 65535), 4000),
    store,
    dataDir,
    sqlitePath: path.resolve(dataDir, read(env, 'TOKENGATE_SQLITE_PATH', z.string().trim(), 'tokengate.db')),
    mysqlUrl: url,
    mysqlTable: read(env, 'TOKENGATE_MYSQL_TABLE', tableName, 'oauthtoken'),
    mysqlPoolSize: read(env, 'TOKENGATE_MYSQL_POOL_SIZE', intIn(1, 500), 16),
    apiKeys: read<ApiKeyEntry[] | null>(env, 'TOKENGATE_API_KEYS', apiKeys, null),
    encryptionKeys: read<Buffer[] | null>(env, 'TOKENGATE_ENCRYPTION_KEY', encryptionKeyList, null),
    accountsUrl,
    allowedAccountsUrls: [...new Set([...allowed, accountsUrl])],
    refreshAheadSeconds,
    refreshCheckSeconds,
    refreshLeaseSeconds: read(env, 'TOKENGATE_REFRESH_LEASE_SECONDS', intIn(5, 600), 30),
    upstreamTimeoutMs: read(env, 'TOKENGATE_UPSTREAM_TIMEOUT_MS', intIn(100, 120000), 10000),
    corsOrigins: read(env, 'TOKENGATE_CORS_ORIGINS', originList('https://app.example.com'), []),
    bodyLimitBytes: read(env, 'TOKENGATE_BODY_LIMIT', byteSize, 1024 * 1024),
    playground: read(env, 'TOKENGATE_PLAYGROUND', onOff, !production),
    production,
    logLevel: read(
      env,
      'TOKENGATE_LOG_LEVEL',
      z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { message: 'must be one of fatal, error, warn, info, debug, trace, silent' }),
      'info',
    ),
    logFormat: read(env, 'TOKENGATE_LOG_FORMAT', z.enum(['json', 'pretty'], { message: 'must be json or pretty' }), 'json'),
    maxQueryCost: read(env, 'TOKENGATE_MAX_QUERY_COST', intIn(10, 1_000_000), 1000),
    maxQueryDepth: read(env, 'TOKENGATE_MAX_QUERY_DEPTH', intIn(2, 100), 25),
    maxAliases: read(env, 'TOKENGATE_MAX_ALIASES', intIn(1, 1000), 30),
    auditRetentionDays: read(env, 'TOKENGATE_AUDIT_RETENTION_DAYS', intIn(0, 36500), 90),
    providersFile: read<string | null>(
      env,
      'TOKENGATE_PROVIDERS_FILE',
      z
        .string()
        .trim()
        .transform((v) => path.resolve(v)),
      null,
    ),
    webhook: hookUrl
      ? {
          url: hookUrl,
          secret: hookSecret!,
          failingAfterSeconds: read(env, 'TOKENGATE_WEBHOOK_FAILING_AFTER_SECONDS', intIn(0, 7 * 24 * 3600), 900),
          maxAttempts: read(env, 'TOKENGATE_WEBHOOK_MAX_ATTEMPTS', intIn(1, 20), 8),
          backoffMs: read(env, 'TOKENGATE_WEBHOOK_BACKOFF_MS', intIn(10, 600_000), 1000),
          timeoutMs: read(env, 'TOKENGATE_WEBHOOK_TIMEOUT_MS', intIn(100, 60_000), 5000),
        }
      : null,
    connect: {
      publicUrl,
      returnOrigins: [...new Set([...(publicUrl ? [publicUrl] : []), ...returnOrigins])],
      ttlSeconds: read(env, 'TOKENGATE_CONNECT_TTL_SECONDS', intIn(1, 3600), 600),
    },
    proxy: {
      allowedApiHosts: read(env, 'TOKENGATE_ALLOWED_API_HOSTS', apiHostList, []),
      bodyLimitBytes: proxyBodyLimit,
      replayLimitBytes: Math.min(proxyReplayLimit, proxyBodyLimit),
      timeoutMs: read(env, 'TOKENGATE_PROXY_TIMEOUT_MS', intIn(100, 3_600_000), 60_000),
      credentialKey: read<Buffer | null>(env, 'TOKENGATE_PROXY_CREDENTIAL_KEY', credentialKey, null),
    },
  };
}

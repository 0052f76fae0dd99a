import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { fastifyApolloDrainPlugin } from '@as-integrations/fastify';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import type { FastifyInstance } from 'fastify';
import { BREAK, GraphQLError, type ASTVisitor, type ValidationContext, type ValidationRule } from 'graphql';
import { AuditTrail } from '../audit/audit-trail';
import type { Clock } from '../clock';
import type { Config } from '../config';
import { loadEncryptionKeys } from '../crypto/key-file';
import { Keyring } from '../crypto/keyring';
import type { Logger } from '../logger';
import { AccountsClient } from '../oauth/accounts-client';
import { AccountsUrlPolicy } from '../oauth/accounts-url-policy';
import { RefreshEngine } from '../oauth/refresh-engine';
import { RefreshScheduler } from '../oauth/refresh-scheduler';
import { loadProvidersFile, ProviderRegistry } from '../providers/provider-registry';
import type { GatewayContext } from '../resolvers/context.type';
import { gatewaySchema } from '../resolvers/schema';
import { requestHooksPlugin } from '../resolvers/request-hooks';
import { secretReads } from '../resolvers/secret-reads.plugin';
import { ApiHostPolicy } from '../proxy/api-hosts';
import { ApiProxy } from '../proxy/api-proxy';
import { ProxyAudit } from '../proxy/proxy-audit';
import { ProxyCredentials, loadProxyCredentialKey } from '../proxy/proxy-credentials';
import { TokenService } from '../services/token.service';
import { ClientService } from '../services/client.service';
import { ConnectService } from '../services/connect.service';
import { instrumentStores } from '../stores/instrumented-stores';
import { openStore, storeOptionsOf } from '../stores/open-store';
import type { Stores } from '../stores/stores';
import { NO_TOKEN_EVENTS, type TokenEvents } from '../oauth/token-events';
import { WebhookNotifier } from '../webhooks/webhook-notifier';
import { WebhookSender } from '../webhooks/webhook-sender';
import { loadApiKeys } from './api-keys';
import { createErrorFormatter, storeUnavailable } from './error-format';
import { DashboardSessions } from './dashboard-session';
import { createHttpApp } from './http-app';
import { HttpDrain, type DrainOptions } from './http-drain';
import { Metrics } from './metrics';
import { observability } from './observability.plugin';
import { queryCost } from './query-cost.plugin';

/** A running gateway, not yet listening: `main.ts` (or a test) calls `app.listen()`. */
export interface Gateway {
  readonly config: Config;
  /** The HTTP layer (Fastify), routes registered. */
  readonly app: FastifyInstance;
  readonly stores: Stores;
  readonly engine: RefreshEngine;
  readonly scheduler: RefreshScheduler;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** The audit trail (batched secret reads, pruning, the `auditLog` query). */
  readonly audit: AuditTrail;
  /** Webhook deliveries; null when `TOKENGATE_WEBHOOK_URL` is unset. */
  readonly webhooks: WebhookSender | null;
  /** The per-minute audit of API proxy calls (written when a minute ends, or at close). */
  readonly proxyAudit: ProxyAudit;
  /** The connect flow (`startConnect`, `GET /oauth/callback`). */
  readonly connect: ConnectService;
  /**
   * Stops, in this order: the background task takes no new token and the
   * HTTP server no new connection (at once); requests in flight are answered
   * (with `Connection: close`) and idle connections closed (see
   * {@link HttpDrain}); the background task's refreshes in flight, and any
   * refresh a request started, finish; then Apollo, webhooks, the audit
   * trail and the store close. Idempotent.
   */
  close(options?: DrainOptions): Promise<void>;
}

export interface GatewayDeps {
  logger: Logger;
  /** Collect Node's default process metrics (off in tests that run several gateways). */
  defaultMetrics?: boolean;
  /** The fetch the provider client uses [globalThis.fetch]: a test plugs in another HTTP agent (e.g. a pinned host name). */
  fetch?: typeof fetch;
  /** The connect flow's clock, in epoch ms [Date.now]: a test expires a connect with it. */
  now?: () => number;
  /** The clock of the refresh engine, the background task and the webhooks [the real clock]; tests pass one they control. */
  clock?: Clock;
}

/**
 * Builds a gateway from its configuration: keys, store (migrated), refresh
 * engine and background task, GraphQL API, health, metrics and playground
 * routes. Knows nothing of sockets.
 */
export async function createGateway(config: Config, deps: GatewayDeps): Promise<Gateway> {
  const { logger, clock } = deps;
  const metrics = new Metrics({ defaultMetrics: deps.defaultMetrics });
  const encryption = loadEncryptionKeys(config.encryptionKeys, config.dataDir);
  const keyring = new Keyring(encryption.keys);
  if (encryption.file) {
    // Every stored secret is encrypted with this key: losing the file loses every token.
    const backup = 'back it up (apart from the database): without it no stored token can be read; or set TOKENGATE_ENCRYPTION_KEY';
    if (encryption.created) logger.warn({ file: encryption.file }, `generated the encryption key in this file (mode 0600): ${backup}`);
    else logger.info({ file: encryption.file }, `the encryption key is in this file: ${backup}`);
  }
  const apiKeys = loadApiKeys(config.apiKeys, config.dataDir);
  if (apiKeys.generatedKeyFile) {
    logger.info({ file: apiKeys.generatedKeyFile, created: apiKeys.created }, 'TOKENGATE_API_KEYS is not set: the admin API key is in this file (mode 0600)');
  }
  // Read before the store opens: a broken file stops the start with nothing to close.
  const providersFromFile = config.providersFile ? loadProvidersFile(config.providersFile) : [];
  const stores = instrumentStores(await openStore(storeOptionsOf(config), keyring), metrics.storeDuration);
  const policy = new AccountsUrlPolicy({ defaultAccountsUrl: config.accountsUrl, allowed: config.allowedAccountsUrls });
  const leaseMs = config.refreshLeaseSeconds * 1000;
  const client = new AccountsClient({
    policy,
    // Every attempt, with its back-off, fits inside the refresh lease.
    timeoutMs: Math.min(config.upstreamTimeoutMs, Math.floor((leaseMs - 2_000) / 3)),
    maxAttempts: 3,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
    onAttempt: ({ kind, outcome, durationMs }) => metrics.upstreamDuration.observe({ kind, outcome }, durationMs / 1000),
  });
  const refreshAheadMs = config.refreshAheadSeconds * 1000;
  const audit = new AuditTrail({ store: stores.audit, logger, retentionDays: config.auditRetentionDays, registry: metrics.registry });
  const webhooks = config.webhook
    ? new WebhookSender({ ...config.webhook, logger: logger.child({ component: 'webhooks' }), registry: metrics.registry, clock })
    : null;
  const events: TokenEvents = webhooks
    ? new WebhookNotifier({ store: stores.audit, sender: webhooks, logger, refreshAheadMs, failingAfterMs: config.webhook!.failingAfterSeconds * 1000, clock })
    : NO_TOKEN_EVENTS;
  const providers = new ProviderRegistry({ store: stores.providers, policy, fromFile: providersFromFile });
  await providers.load();
  const engine = new RefreshEngine({
    tokens: stores.tokens,
    leases: stores.leases,
    audit: stores.audit,
    counters: stores.governor,
    client,
    policy,
    logger,
    refreshAheadMs,
    leaseMs,
    events,
    providers,
    clock,
    onOutcome: (e) => metrics.refreshes.inc(e),
    onGovernorDecision: (e) => metrics.governorDecisions.inc(e),
  });
  const scheduler = new RefreshScheduler({
    tokens: stores.tokens,
    leases: stores.leases,
    engine,
    logger,
    intervalMs: config.refreshCheckSeconds * 1000,
    refreshAheadMs,
    clock,
  });
  const tokens = new TokenService(stores.tokens, stores.browse, policy, engine, refreshAheadMs, events, providers);
  const clients = new ClientService(stores.clients, providers, policy, config.connect);
  const connect = new ConnectService({
    clients,
    connects: stores.connects,
    tokens: stores.tokens,
    providers,
    policy,
    client,
    governor: engine.governor,
    config: config.connect,
    logger: logger.child({ component: 'connect' }),
    events,
    ...(deps.now ? { now: deps.now } : {}),
  });
  const proxyCredentials = new ProxyCredentials(loadProxyCredentialKey(config.proxy.credentialKey, config.dataDir).key);
  const proxyAudit = new ProxyAudit(audit);
  const proxy = new ApiProxy({
    config: config.proxy,
    corsOrigins: config.corsOrigins,
    store: stores.tokens,
    engine,
    providers,
    apiKeys: apiKeys.keys,
    credentials: proxyCredentials,
    hosts: new ApiHostPolicy(config.proxy.allowedApiHosts),
    metrics,
    audit: proxyAudit,
    logger: logger.child({ component: 'proxy' }),
    refreshAheadMs,
  });
  const sessions = new DashboardSessions(keyring.subkey('dashboard-session'), apiKeys.keys);

  // The routes are registered now and set up by app.ready(), once Apollo has started.
  const app: FastifyInstance = createHttpApp({
    config,
    apollo: () => apollo,
    apiKeys: apiKeys.keys,
    sessions,
    tokens,
    clients,
    connect,
    audit,
    stores,
    metrics,
    logger,
    proxy,
    proxyCredentials,
  });
  const drain = new HttpDrain(app, logger);
  const apollo: ApolloServer<GatewayContext> = new ApolloServer<GatewayContext>({
    schema: gatewaySchema(),
    introspection: config.playground,
    includeStacktraceInErrorResponses: false,
    // Bounds the document before validation: graphql-js's own rules recurse through fragment spreads.
    parseOptions: { maxTokens: 25_000 },
    hideSchemaDetailsFromClientErrors: config.production,
    csrfPrevention: true,
    // main.ts owns SIGTERM/SIGINT: it drains HTTP first, then closes the gateway.
    stopOnTerminationSignals: false,
    formatError: createErrorFormatter(logger),
    validationRules: [
      guarded(maxDepthRule({ n: config.maxQueryDepth, ignoreIntrospection: false, propagateOnRejection: false, onReject: [reportTo] })),
      maxAliasesRule({ n: config.maxAliases, propagateOnRejection: false, onReject: [reportTo] }),
    ],
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      ApolloServerPluginCacheControlDisabled(),
      // The per-request concerns, one listener for all (see requestHooksPlugin). The metrics first: they count every request, a refused one too.
      requestHooksPlugin<GatewayContext>([observability(metrics, logger), queryCost(config.maxQueryCost), storeUnavailable(), secretReads()]),
      // apollo.stop() closes the HTTP server first, letting requests in flight finish.
      fastifyApolloDrainPlugin(app),
    ],
    logger: apolloLogger(logger),
  });
  await apollo.start();
  // Runs the route plugins: the GraphQL one needs a started Apollo server.
  await app.ready();
  scheduler.start();
  audit.start();

  let closing: Promise<void> | null = null;
  return {
    config,
    app,
    stores,
    engine,
    scheduler,
    metrics,
    logger,
    audit,
    webhooks,
    proxyAudit,
    connect,
    close(options) {
      closing ??= (async () => {
        const background = scheduler.stop();
        await drain.drain(options);
        await background;
        // A refresh outlives the request that started it when the drain's deadline cut that request: its result is still stored.
        await engine.idle();
        await connect.idle();
        await apollo.stop();
        proxy.close();
        await webhooks?.close();
        proxyAudit.close();
        await audit.close();
        await stores.close();
      })();
      return closing;
    },
  };
}

/**
 * A validation rule whose visitor throws — graphql-armor's depth rule recurses
 * through fragment spreads and overflows the stack on a chain of ~2,000 of
 * them — reports the document as too deep instead of failing with a 500.
 */
function guarded(rule: ValidationRule): ValidationRule {
  return (ctx) => {
    const visitor = rule(ctx) as Record<string, unknown>;
    const wrap =
      (fn: (...args: unknown[]) => unknown) =>
      (...args: unknown[]) => {
        try {
          return fn.apply(visitor, args);
        } catch (err) {
          if (!(err instanceof RangeError)) throw err;
          ctx.reportError(new GraphQLError('The query is nested too deeply to check', { extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }));
          return BREAK;
        }
      };
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(visitor)) {
      if (typeof v === 'function') out[key] = wrap(v as (...args: unknown[]) => unknown);
      else if (v && typeof v === 'object') {
        const { enter, leave } = v as { enter?: (...args: unknown[]) => unknown; leave?: (...args: unknown[]) => unknown };
        out[key] = { ...(enter ? { enter: wrap(enter) } : {}), ...(leave ? { leave: wrap(leave) } : {}) };
      } else out[key] = v;
    }
    return out as ASTVisitor;
  };
}

function reportTo(ctx: ValidationContext | null, error: GraphQLError): void {
  ctx?.reportError(new GraphQLError(error.message.replace(/^Syntax Error: /, ''), { extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }));
}

function apolloLogger(logger: Logger) {
  return {
    debug: (m: string) => logger.debug(m),
    info: (m: string) => logger.info(m),
    warn: (m: string) => logger.warn(m),
    error: (m: string) => logger.error(m),
  };
}

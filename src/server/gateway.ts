import { ApolloServer, HeaderMap } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { expressMiddleware } from '@as-integrations/express5';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import cors from 'cors';
import express, { type ErrorRequestHandler, type Express } from 'express';
import { BREAK, GraphQLError, type ASTVisitor, type ValidationContext, type ValidationRule } from 'graphql';
import { AuditTrail } from '../audit/audit-trail';
import type { Config } from '../config';
import { loadEncryptionKeys } from '../crypto/key-file';
import { Keyring } from '../crypto/keyring';
import type { Logger } from '../logger';
import { AccountsClient } from '../oauth/accounts-client';
import { AccountsUrlPolicy } from '../oauth/accounts-url-policy';
import { RefreshEngine } from '../oauth/refresh-engine';
import { RefreshScheduler } from '../oauth/refresh-scheduler';
import type { GatewayContext } from '../resolvers/context.type';
import { gatewaySchema } from '../resolvers/schema';
import { secretReadsPlugin } from '../resolvers/secret-reads.plugin';
import { TokenService } from '../services/token.service';
import { instrumentStores } from '../stores/instrumented-stores';
import { openStore, storeOptionsOf } from '../stores/open-store';
import type { Stores } from '../stores/stores';
import { NO_TOKEN_EVENTS, type TokenEvents } from '../oauth/token-events';
import { WebhookNotifier } from '../webhooks/webhook-notifier';
import { WebhookSender } from '../webhooks/webhook-sender';
import { loadApiKeys, type ApiKeys } from './api-keys';
import { createErrorFormatter, storeUnavailablePlugin } from './error-format';
import { Metrics } from './metrics';
import { observabilityPlugin } from './observability.plugin';
import { RequestContext } from './request-context';
import { createPlaygroundHandler } from './playground';
import { queryCostPlugin } from './query-cost.plugin';
import { requestId } from './request-id';

/** A running gateway, without a socket: `main.ts` (or a test) listens with `app`. */
export interface Gateway {
  readonly config: Config;
  readonly app: Express;
  readonly stores: Stores;
  readonly engine: RefreshEngine;
  readonly scheduler: RefreshScheduler;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** The audit trail (batched secret reads, pruning, the `auditLog` query). */
  readonly audit: AuditTrail;
  /** Webhook deliveries; null when `TOKENGATE_WEBHOOK_URL` is unset. */
  readonly webhooks: WebhookSender | null;
  /** Stops the background task, Apollo and the store. Idempotent. */
  close(): Promise<void>;
}

export interface GatewayDeps {
  logger: Logger;
  /** Collect Node's default process metrics (off in tests that run several gateways). */
  defaultMetrics?: boolean;
}

/**
 * Builds a gateway from its configuration: keys, store (migrated), refresh
 * engine and background task, GraphQL API, health, metrics and playground
 * routes. Knows nothing of sockets.
 */
export async function createGateway(config: Config, deps: GatewayDeps): Promise<Gateway> {
  const { logger } = deps;
  const metrics = new Metrics({ defaultMetrics: deps.defaultMetrics });
  const encryption = loadEncryptionKeys(config.encryptionKeys, config.dataDir);
  const keyring = new Keyring(encryption.keys);
  const apiKeys = loadApiKeys(config.apiKeys, config.dataDir);
  if (apiKeys.generatedKeyFile) {
    logger.info({ file: apiKeys.generatedKeyFile, created: apiKeys.created }, 'TOKENGATE_API_KEYS is not set: the admin API key is in this file (mode 0600)');
  }
  const stores = instrumentStores(await openStore(storeOptionsOf(config), keyring), metrics.storeDuration);
  const policy = new AccountsUrlPolicy({ defaultAccountsUrl: config.accountsUrl, allowed: config.allowedAccountsUrls });
  const leaseMs = config.refreshLeaseSeconds * 1000;
  const client = new AccountsClient({
    policy,
    // Every attempt, with its back-off, fits inside the refresh lease.
    timeoutMs: Math.min(config.upstreamTimeoutMs, Math.floor((leaseMs - 2_000) / 3)),
    maxAttempts: 3,
    onAttempt: ({ kind, outcome, durationMs }) => metrics.upstreamDuration.observe({ kind, outcome }, durationMs / 1000),
  });
  const refreshAheadMs = config.refreshAheadSeconds * 1000;
  const audit = new AuditTrail({ store: stores.audit, logger, retentionDays: config.auditRetentionDays, registry: metrics.registry });
  const webhooks = config.webhook
    ? new WebhookSender({ ...config.webhook, logger: logger.child({ component: 'webhooks' }), registry: metrics.registry })
    : null;
  const events: TokenEvents = webhooks
    ? new WebhookNotifier({ store: stores.audit, sender: webhooks, logger, refreshAheadMs, failingAfterMs: config.webhook!.failingAfterSeconds * 1000 })
    : NO_TOKEN_EVENTS;
  const engine = new RefreshEngine({ tokens: stores.tokens, leases: stores.leases, audit: stores.audit, client, policy, logger, refreshAheadMs, leaseMs, events, onOutcome: (e) => metrics.refreshes.inc(e) });
  const scheduler = new RefreshScheduler({ tokens: stores.tokens, leases: stores.leases, engine, logger, intervalMs: config.refreshCheckSeconds * 1000, refreshAheadMs });
  const tokens = new TokenService(stores.tokens, policy, engine, refreshAheadMs, events);

  const apollo = new ApolloServer<GatewayContext>({
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
    plugins: [ApolloServerPluginLandingPageDisabled(), queryCostPlugin(config.maxQueryCost), observabilityPlugin(metrics, logger), ApolloServerPluginCacheControlDisabled(), secretReadsPlugin(), storeUnavailablePlugin()],
    logger: apolloLogger(logger),
  });
  await apollo.start();

  const app = buildHttpApp({ config, apollo, apiKeys: apiKeys.keys, tokens, audit, stores, metrics, logger });
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
    close() {
      closing ??= (async () => {
        await scheduler.stop();
        await apollo.stop();
        await webhooks?.close();
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

interface HttpAppParts {
  config: Config;
  apollo: ApolloServer<GatewayContext>;
  apiKeys: ApiKeys;
  tokens: TokenService;
  audit: AuditTrail;
  stores: Stores;
  metrics: Metrics;
  logger: Logger;
}

/** The HTTP routes: `/healthz`, `/readyz`, `/metrics`, and `/graphql` (API and playground). */
function buildHttpApp({ config, apollo, apiKeys, tokens, audit, stores, metrics, logger }: HttpAppParts): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(requestId);
  app.use((_req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', async (_req, res) => {
    try {
      await withTimeout(stores.ping(), 2_000);
      res.json({ status: 'ready', store: stores.kind });
    } catch {
      res.status(503).json({ status: 'unavailable', store: stores.kind });
    }
  });

  app.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });

  if (config.corsOrigins.length > 0) {
    app.use(
      '/graphql',
      cors({
        origin: config.corsOrigins,
        methods: ['GET', 'POST', 'OPTIONS'],
        allowedHeaders: ['authorization', 'content-type', 'apollo-require-preflight', 'x-apollo-operation-name', 'x-request-id'],
        exposedHeaders: ['x-request-id'],
        maxAge: 600,
      }),
    );
  }
  if (config.playground) app.get('/graphql', createPlaygroundHandler({ endpoint: '/graphql', title: 'tokengate' }));
  app.use(
    '/graphql',
    (_req, res, next) => {
      res.setHeader('Cache-Control', 'no-store');
      next();
    },
    express.json({ limit: config.bodyLimitBytes }),
    expressMiddleware(apollo, {
      context: async ({ req, res }) => {
        const principal = apiKeys.authenticate(req.get('authorization'));
        if (!principal) {
          throw new GraphQLError('A valid API key is required: Authorization: Bearer <key>', {
            extensions: { code: 'UNAUTHENTICATED', http: { status: 401, headers: new HeaderMap([['www-authenticate', 'Bearer']]) } } as unknown as Record<string, unknown>,
          });
        }
        return new RequestContext(principal, res.locals.requestId as string, res.locals.receivedAt as Date, tokens, audit, logger);
      },
    }),
  );

  app.use((_req, res) => {
    res.status(404).json({ error: 'not found' });
  });
  const onError: ErrorRequestHandler = (err, _req, res, _next) => {
    const status = typeof err?.status === 'number' && err.status >= 400 && err.status < 500 ? err.status : 500;
    if (status === 500) logger.error({ err: { name: err?.name, code: err?.code, stack: err?.stack } }, 'HTTP request failed');
    const message = status === 413 ? `The request body is larger than ${config.bodyLimitBytes} bytes` : status === 500 ? 'Internal server error' : 'The request is malformed';
    res.status(status).json({ errors: [{ message, extensions: { code: status === 500 ? 'INTERNAL_SERVER_ERROR' : 'BAD_REQUEST' } }] });
  };
  app.use(onError);
  return app;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), ms)))]).finally(() => clearTimeout(timer));
}

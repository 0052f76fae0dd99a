import type { OperationDefinitionNode } from 'graphql';
import type { GatewayContext } from '../resolvers/context.type';
import type { Logger } from '../logger';
import type { Metrics } from './metrics';
import type { RequestConcern, RequestHooks } from '../resolvers/request-hooks';

/** The metric label of an operation: its root fields (sorted, at most 5), or `introspection`. */
function operationLabel(op: OperationDefinitionNode): string {
  const fields = op.selectionSet.selections.map((s) => (s.kind === 'Field' ? s.name.value : s.kind)).sort();
  return fields.length > 0 && fields.every((f) => f.startsWith('__')) ? 'introspection' : [...new Set(fields)].slice(0, 5).join(',');
}

/** Counts and times one GraphQL request (both metrics, the same labels). @returns its duration in ms, as its log line says it. */
function countRequest(metrics: Metrics, operation: string, outcome: string, seconds: number): number {
  metrics.graphqlRequests.inc({ operation, outcome });
  metrics.graphqlDuration.observe({ operation }, seconds);
  return Math.round(seconds * 1e4) / 10;
}

/**
 * Counts and times every GraphQL request by operation (its root fields) and
 * outcome (`ok` or the first error code), and writes one log line for it —
 * with the request id, the role and key name, never the variables.
 */
export function observability(metrics: Metrics, logger: Logger): RequestConcern<GatewayContext> {
  // Apollo hands out one parsed operation per cached document: its label is worked out once.
  const labels = new WeakMap<OperationDefinitionNode, string>();
  return () => new RequestObservation(metrics, logger, labels);
}

class RequestObservation implements RequestHooks<GatewayContext> {
  private readonly started = performance.now();
  private operation = 'unknown';

  constructor(
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly labels: WeakMap<OperationDefinitionNode, string>,
  ) {}

  didResolveOperation({ operation: op }: Parameters<NonNullable<RequestHooks<GatewayContext>['didResolveOperation']>>[0]): void {
    if (!op) return;
    let label = this.labels.get(op);
    if (label === undefined) this.labels.set(op, (label = operationLabel(op)));
    this.operation = label;
  }

  willSendResponse({ response, errors, contextValue }: Parameters<NonNullable<RequestHooks<GatewayContext>['willSendResponse']>>[0]): void {
    const seconds = (performance.now() - this.started) / 1e3;
    const body = response.body.kind === 'single' ? response.body.singleResult : null;
    const firstCode = (body?.errors?.[0]?.extensions?.code as string | undefined) ?? (errors?.[0] ? 'ERROR' : undefined);
    const outcome = firstCode ?? 'ok';
    const operation = this.operation;
    if (contextValue?.observation) contextValue.observation.observed = true;
    const durationMs = countRequest(this.metrics, operation, outcome, seconds);
    if (this.logger.isLevelEnabled('info'))
      contextValue?.logger?.info(
        { operation, outcome, durationMs, role: contextValue.principal?.role, keyName: contextValue.principal?.keyName },
        'graphql request',
      );
  }
}

/** The outcome label of a request refused before GraphQL ran (by its HTTP status). */
const REFUSED: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHENTICATED',
  405: 'METHOD_NOT_ALLOWED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

/**
 * Counts and logs a `/graphql` request that was answered with an error
 * before any operation ran (a body that is not JSON or too large, a
 * request refused by CSRF prevention, a batch, a missing or unknown key),
 * as `operation="unknown"`: one log line per request, as for the others,
 * except for a refused key (see below).
 */
export function observeRefused(metrics: Metrics, logger: Logger, request: { id: string; receivedAt: Date | null }, status: number): void {
  const outcome = REFUSED[status] ?? `HTTP_${status}`;
  const seconds = request.receivedAt ? (Date.now() - request.receivedAt.getTime()) / 1e3 : 0;
  const durationMs = countRequest(metrics, 'unknown', outcome, seconds);
  // A refused key is logged by the rate-limited AuthFailureLog, not once per request: a flood of bad keys must not flood the log.
  if (status !== 401 && logger.isLevelEnabled('info')) logger.info({ reqId: request.id, operation: 'unknown', outcome, status, durationMs }, 'graphql request');
}

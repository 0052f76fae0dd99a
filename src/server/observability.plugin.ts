import type { ApolloServerPlugin } from '@apollo/server';
import type { GatewayContext } from '../resolvers/context.type';
import type { Logger } from '../logger';
import type { Metrics } from './metrics';

/**
 * Counts and times every GraphQL request by operation (its root fields) and
 * outcome (`ok` or the first error code), and writes one log line for it —
 * with the request id, the role and key name, never the variables.
 */
export function observabilityPlugin(metrics: Metrics, logger: Logger): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart({ contextValue }) {
      const started = process.hrtime.bigint();
      let operation = 'unknown';
      return {
        async didResolveOperation({ operation: op }) {
          if (!op) return;
          const fields = op.selectionSet.selections.map((s) => (s.kind === 'Field' ? s.name.value : s.kind)).sort();
          operation = fields.length > 0 && fields.every((f) => f.startsWith('__')) ? 'introspection' : [...new Set(fields)].slice(0, 5).join(',');
        },
        async willSendResponse({ response, errors }) {
          const seconds = Number(process.hrtime.bigint() - started) / 1e9;
          const body = response.body.kind === 'single' ? response.body.singleResult : null;
          const firstCode = (body?.errors?.[0]?.extensions?.code as string | undefined) ?? (errors?.[0] ? 'ERROR' : undefined);
          const outcome = firstCode ?? 'ok';
          metrics.graphqlRequests.inc({ operation, outcome });
          metrics.graphqlDuration.observe({ operation }, seconds);
          if (logger.isLevelEnabled('info'))
            contextValue?.logger?.info(
              { operation, outcome, durationMs: Math.round(seconds * 1e4) / 10, role: contextValue.principal?.role, keyName: contextValue.principal?.keyName },
              'graphql request',
            );
        },
      };
    },
  };
}

import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError, type OperationDefinitionNode } from 'graphql';
import { fieldExtensionsEstimator, getComplexity, simpleEstimator } from 'graphql-query-complexity';

/** Whether an operation asks only for introspection (`__schema`, `__type`, `__typename`). */
function isIntrospectionOnly(operation: OperationDefinitionNode): boolean {
  return operation.selectionSet.selections.every((s) => s.kind === 'Field' && s.name.value.startsWith('__'));
}

/**
 * Refuses an operation whose estimated cost exceeds `maxCost` before any
 * resolver runs (a query of thousands of aliases never touches the store).
 * Root fields carry their cost in the schema (`complexity` of type-graphql);
 * every other field costs 1. Introspection is exempt, so the playground can
 * load the schema.
 */
export function queryCostPlugin(maxCost: number): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document, schema, operation }) {
          if (!operation || isIntrospectionOnly(operation)) return;
          let cost: number;
          try {
            cost = getComplexity({
              schema,
              query: document,
              operationName: request.operationName ?? undefined,
              variables: request.variables ?? {},
              estimators: [fieldExtensionsEstimator(), simpleEstimator({ defaultComplexity: 1 })],
            });
          } catch (err) {
            // The estimate coerces the variables first: an invalid one is the caller's error.
            throw new GraphQLError(err instanceof GraphQLError ? err.message : 'The variables are invalid', {
              extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } },
            });
          }
          if (cost > maxCost) {
            throw new GraphQLError(`The query costs ${cost}, more than the limit of ${maxCost}: ask for fewer fields or aliases`, {
              extensions: { code: 'GRAPHQL_VALIDATION_FAILED', http: { status: 400 } },
            });
          }
        },
      };
    },
  };
}

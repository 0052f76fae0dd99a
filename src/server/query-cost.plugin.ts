import type { BaseContext } from '@apollo/server';
import { BREAK, GraphQLError, visit, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import { fieldExtensionsEstimator, getComplexity, simpleEstimator } from 'graphql-query-complexity';
import type { RequestConcern, RequestHooks } from '../resolvers/request-hooks';

/** Whether an operation asks only for introspection (`__schema`, `__type`, `__typename`). */
function isIntrospectionOnly(operation: OperationDefinitionNode): boolean {
  return operation.selectionSet.selections.every((s) => s.kind === 'Field' && s.name.value.startsWith('__'));
}

/**
 * Whether a document's cost is the same whatever its variables: no
 * `@include`/`@skip` and no `first` taken from a variable. Such a document's
 * cost is computed once and cached (Apollo hands out one parsed document per
 * query text).
 */
function costIgnoresVariables(document: DocumentNode): boolean {
  let independent = true;
  visit(document, {
    Directive(node) {
      if ((node.name.value === 'include' || node.name.value === 'skip') && node.arguments?.some((a) => a.value.kind === 'Variable')) {
        independent = false;
        return BREAK;
      }
      return undefined;
    },
    Argument(node) {
      if (node.name.value === 'first' && node.value.kind === 'Variable') {
        independent = false;
        return BREAK;
      }
      return undefined;
    },
  });
  return independent;
}

/**
 * Refuses an operation whose estimated cost exceeds `maxCost` before any
 * resolver runs (a query of thousands of aliases never touches the store).
 * Root fields carry their cost in the schema (`complexity` of type-graphql);
 * every other field costs 1. Introspection is exempt, so the playground can
 * load the schema.
 */
export function queryCost<C extends BaseContext>(maxCost: number): RequestConcern<C> {
  const cached = new WeakMap<DocumentNode, Map<string, number>>();
  const hooks: RequestHooks<C> = {
    didResolveOperation({ request, document, schema, operation }) {
      if (!operation || isIntrospectionOnly(operation)) return;
      const key = request.operationName ?? '';
      let cost = cached.get(document)?.get(key);
      if (cost === undefined) {
        cost = estimate();
        if (costIgnoresVariables(document)) {
          if (!cached.has(document)) cached.set(document, new Map());
          cached.get(document)!.set(key, cost);
        }
      }
      if (cost > maxCost) {
        throw new GraphQLError(`The query costs ${cost}, more than the limit of ${maxCost}: ask for fewer fields or aliases`, {
          extensions: { code: 'GRAPHQL_VALIDATION_FAILED', http: { status: 400 } },
        });
      }

      function estimate(): number {
        try {
          return getComplexity({
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
      }
    },
  };
  return () => hooks;
}

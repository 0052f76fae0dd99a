import type { GraphQLSchema } from 'graphql';
import { buildSchemaSync } from 'type-graphql';
import { AuditResolver } from './audit.resolver';
import { authChecker } from './auth-checker';
import { ProxyCredentialResolver } from './proxy-credential.resolver';
import { TokenPageResolver } from './token-page.resolver';
import { TokenBudgetResolver } from './token-budget.resolver';
import { TokenSecretsResolver } from './token-secrets.resolver';
import { TokenResolver } from './token.resolver';
import { ProviderResolver } from './provider.resolver';
import { ClientResolver } from './client.resolver';

let schema: GraphQLSchema | null = null;

/**
 * The GraphQL schema, built once per process (type-graphql keeps its build
 * settings in static state; every gateway of a process serves this one
 * schema, and gets its services through the request context).
 */
export function gatewaySchema(): GraphQLSchema {
  schema ??= buildSchemaSync({
    resolvers: [
      TokenResolver,
      TokenSecretsResolver,
      TokenBudgetResolver,
      TokenPageResolver,
      AuditResolver,
      ProxyCredentialResolver,
      ProviderResolver,
      ClientResolver,
    ],
    authChecker,
    validate: false,
  });
  return schema;
}

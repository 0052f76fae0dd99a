import type { GraphQLResolveInfo } from 'graphql';
import type { AuthChecker } from 'type-graphql';
import { forbidden } from '../errors';
import type { GatewayContext } from './context.type';

/**
 * The one place roles are checked. No roles means any key (the context
 * already refused requests without one); otherwise the caller needs one of
 * the roles, else `FORBIDDEN` — for a field, that field is `null` with the
 * error and the rest is served; for a mutation, it fails whole.
 */
export function checkRole(
  context: Pick<GatewayContext, 'principal'>,
  info: Pick<GraphQLResolveInfo, 'parentType' | 'fieldName'>,
  roles: readonly string[],
): true {
  if (roles.length === 0 || roles.includes(context.principal.role)) return true;
  const what = info.parentType.name === 'Mutation' ? `run ${info.fieldName}` : `read ${info.parentType.name}.${info.fieldName}`;
  throw forbidden(`the ${context.principal.role} role may not ${what}`);
}

/** `@Authorized(roles)` of the operations: `checkRole`. */
export const authChecker: AuthChecker<GatewayContext> = ({ context, info }, roles) => checkRole(context, info, roles);

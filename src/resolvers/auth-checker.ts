import type { AuthChecker } from 'type-graphql';
import { forbidden } from '../errors';
import type { GatewayContext } from './context.type';

/**
 * The one place roles are checked. `@Authorized()` needs any key (the
 * context already refused requests without one); `@Authorized(roles)` needs
 * one of the roles, else `FORBIDDEN` — for a field, that field is `null` with
 * the error and the rest is served; for a mutation, it fails whole.
 */
export const authChecker: AuthChecker<GatewayContext> = ({ context, info }, roles) => {
  if (roles.length === 0 || roles.includes(context.principal.role)) return true;
  const what = info.parentType.name === 'Mutation' ? `run ${info.fieldName}` : `read ${info.parentType.name}.${info.fieldName}`;
  throw forbidden(`the ${context.principal.role} role may not ${what}`);
};

import type { GraphQLResolveInfo } from 'graphql';
import { Ctx, FieldResolver, Info, Resolver, Root } from 'type-graphql';
import type { Role } from '../config';
import { SECRET_READERS as READERS } from '../roles';
import type { SecretField } from '../stores/token';
import { checkRole } from './auth-checker';
import type { GatewayContext } from './context.type';
import { TokenView } from './token.type';

/** Who may read each secret field of `Token`: the table in src/roles.ts, which the dashboard reads too (typed here: every secret field has its readers). */
export const SECRET_READERS: Readonly<Record<SecretField, readonly Role[]>> = READERS;

/** A secret field's description in the schema: who may read it ("operator and admin"). */
const readers = (field: SecretField) => SECRET_READERS[field].join(' and ');

/**
 * The four secret fields of `Token`. Each checks the caller's role (`FORBIDDEN`
 * and `null` for a role that may not read it; the rest of the token is
 * served), reads the secret, and notes a non-null one for the audit trail
 * (`READ_SECRET`, written when the response leaves: `secretReadsPlugin`).
 *
 * Plain synchronous field resolvers rather than `@Authorized` and a
 * middleware on the fields: type-graphql runs those as a chain of async
 * functions per field: about a third of all that paging through tokens
 * (1,000 a page, an access token each) allocated.
 */
@Resolver(() => TokenView)
export class TokenSecretsResolver {
  @FieldResolver(() => String, { nullable: true, description: readers('accessToken') })
  accessToken(@Root() view: TokenView, @Ctx() ctx: GatewayContext, @Info() info: GraphQLResolveInfo): string | null {
    return readSecret(view, 'accessToken', ctx, info);
  }

  @FieldResolver(() => String, { nullable: true, description: readers('refreshToken') })
  refreshToken(@Root() view: TokenView, @Ctx() ctx: GatewayContext, @Info() info: GraphQLResolveInfo): string | null {
    return readSecret(view, 'refreshToken', ctx, info);
  }

  @FieldResolver(() => String, { nullable: true, description: readers('clientSecret') })
  clientSecret(@Root() view: TokenView, @Ctx() ctx: GatewayContext, @Info() info: GraphQLResolveInfo): string | null {
    return readSecret(view, 'clientSecret', ctx, info);
  }

  @FieldResolver(() => String, { nullable: true, description: readers('grantToken') })
  grantToken(@Root() view: TokenView, @Ctx() ctx: GatewayContext, @Info() info: GraphQLResolveInfo): string | null {
    return readSecret(view, 'grantToken', ctx, info);
  }
}

function readSecret(view: TokenView, field: SecretField, ctx: GatewayContext, info: GraphQLResolveInfo): string | null {
  checkRole(ctx, info, SECRET_READERS[field]);
  const value = view.secret(field);
  if (value !== null && value !== undefined) ctx.secretReads?.add(view.id, field);
  return value;
}

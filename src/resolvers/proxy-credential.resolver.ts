import { Arg, Authorized, Ctx, Field, ID, Int, Mutation, ObjectType, Resolver } from 'type-graphql';
import { GraphQLDateTimeISO } from 'graphql-scalars';
import { TokenNotFoundError } from '../errors';
import type { GatewayContext } from './context.type';

const STORE_COST = 10;

@ObjectType('ProxyCredential', { description: 'A short-lived bearer for the API proxy (/api/{tokenId}/…), bound to one token, methods and path prefixes' })
export class ProxyCredentialView {
  @Field({
    description: 'Send as Authorization: Bearer <credential> to /api/{tokenId}/{path}; it can do nothing else (no GraphQL, no other token, method or path)',
  })
  credential: string;

  @Field(() => GraphQLDateTimeISO)
  expiresAt: Date;
}

/** Proxy credentials for browsers, minted by a backend with an operator key. */
@Resolver()
export class ProxyCredentialResolver {
  @Authorized('operator', 'admin')
  @Mutation(() => ProxyCredentialView, {
    description:
      'Issues a proxy credential for one token (operator): ttlSeconds 1..3600; methods such as ["GET"] (HEAD is allowed where GET is); pathPrefixes such as ["/crm/v8/Leads"], matched whole segment by segment. Signed, not stored: rotating TOKENGATE_PROXY_CREDENTIAL_KEY revokes all.',
    complexity: STORE_COST,
  })
  async issueProxyCredential(
    @Arg('tokenId', () => ID) tokenId: string,
    @Arg('ttlSeconds', () => Int) ttlSeconds: number,
    @Arg('methods', () => [String]) methods: string[],
    @Arg('pathPrefixes', () => [String]) pathPrefixes: string[],
    @Ctx() ctx: GatewayContext,
  ): Promise<ProxyCredentialView> {
    if (!ctx.proxyCredentials) throw new Error('proxy credentials are not wired into this gateway');
    if (!(await ctx.tokens.findTokenById(tokenId))) throw new TokenNotFoundError(`no token has id ${JSON.stringify(tokenId)}`);
    const issued = ctx.proxyCredentials.issue({
      tokenId,
      ttlSeconds,
      methods,
      pathPrefixes,
      issuedBy: { role: ctx.principal.role, name: ctx.principal.keyName },
    });
    const out = new ProxyCredentialView();
    out.credential = issued.credential;
    out.expiresAt = issued.expiresAt;
    return out;
  }
}

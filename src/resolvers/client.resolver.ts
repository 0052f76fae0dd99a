import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Authorized, Ctx, FieldResolver, Info, Mutation, Query, Resolver, Root } from 'type-graphql';
import { ErrorCode, ServiceError } from '../errors';
import type { ClientService } from '../services/client.service';
import type { ConnectService } from '../services/connect.service';
import { checkRole } from './auth-checker';
import { ClientInput, ClientView, ConnectStartView, StartConnectInput } from './client.type';
import type { GatewayContext } from './context.type';
import { actorOf } from './secret-reads.plugin';

const STORE_COST = 10;

/**
 * The connect flow's API: OAuth clients (listed by every role, the secret
 * read and the clients written by admins) and `startConnect` (operators).
 */
@Resolver(() => ClientView)
export class ClientResolver {
  @Authorized()
  @Query(() => [ClientView], { description: 'the OAuth clients of the connect flow, by name (the secret for admin keys only)', complexity: STORE_COST })
  async clients(@Ctx() ctx: GatewayContext): Promise<ClientView[]> {
    return (await clientsOf(ctx).listClients()).map(ClientView.of);
  }

  @Authorized()
  @Query(() => ClientView, { nullable: true, description: 'an OAuth client by name; null where none', complexity: STORE_COST })
  async client(@Arg('name') name: string, @Ctx() ctx: GatewayContext): Promise<ClientView | null> {
    const client = await clientsOf(ctx).findClient(name);
    return client && client.name === name ? ClientView.of(client) : null;
  }

  @Authorized('admin')
  @Mutation(() => ClientView, {
    description: 'registers an OAuth client, or replaces the one of that name (its secret encrypted at rest; left out, kept)',
    complexity: STORE_COST,
  })
  async saveClient(@Arg('client', () => ClientInput) client: ClientInput, @Ctx() ctx: GatewayContext): Promise<ClientView> {
    return ClientView.of(await clientsOf(ctx).saveClient({ ...client }));
  }

  @Authorized('admin')
  @Mutation(() => Boolean, {
    description: 'deletes an OAuth client; false where none. Its tokens keep working (they hold their own client id and secret) and their client becomes null',
    complexity: STORE_COST,
  })
  deleteClient(@Arg('name') name: string, @Ctx() ctx: GatewayContext): Promise<boolean> {
    return clientsOf(ctx).deleteClient(name);
  }

  @Authorized('operator', 'admin')
  @Mutation(() => ConnectStartView, {
    description:
      "Starts connecting an account (operator): answers the provider's consent URL, to open in the person's browser. The provider sends the browser back to /oauth/callback, which stores the token and redirects to returnTo.",
    complexity: STORE_COST,
  })
  async startConnect(@Arg('input', () => StartConnectInput) input: StartConnectInput, @Ctx() ctx: GatewayContext): Promise<ConnectStartView> {
    const started = await connectOf(ctx).startConnect({ ...input }, actorOf(ctx));
    return Object.assign(new ConnectStartView(), started);
  }

  @FieldResolver(() => String, { nullable: true, description: 'admin' })
  clientSecret(@Root() view: ClientView, @Ctx() ctx: GatewayContext, @Info() info: GraphQLResolveInfo): string {
    checkRole(ctx, info, ['admin']);
    // Decrypted only now, for an admin who asked for it.
    const secret = view.secret();
    // Recorded like a token secret read (no token: the client's name in detail).
    ctx.audit?.record({ action: 'READ_SECRET', actor: actorOf(ctx), tokenId: null, fields: ['clientSecret'], detail: `client ${view.name}` });
    return secret;
  }
}

function clientsOf(ctx: GatewayContext): ClientService {
  if (!ctx.clients) throw new ServiceError(ErrorCode.INTERNAL_SERVER_ERROR, 'the connect flow is not wired into this gateway');
  return ctx.clients;
}

function connectOf(ctx: GatewayContext): ConnectService {
  if (!ctx.connect) throw new ServiceError(ErrorCode.INTERNAL_SERVER_ERROR, 'the connect flow is not wired into this gateway');
  return ctx.connect;
}

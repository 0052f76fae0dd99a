import { Arg, Authorized, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import type { ProviderRegistry } from '../providers/provider-registry';
import type { GatewayContext } from './context.type';
import { ProviderInput, ProviderView } from './provider.type';

const STORE_COST = 10;

/** The providers of the gateway: listed by every role, registered and deleted by admins. */
@Resolver(() => ProviderView)
export class ProviderResolver {
  @Authorized()
  @Query(() => [ProviderView], { description: 'every provider: zoho (built in) first, then the registered ones by name', complexity: STORE_COST })
  async providers(@Ctx() ctx: GatewayContext): Promise<ProviderView[]> {
    const registry = registryOf(ctx);
    return (await registry.list()).map((p) => ProviderView.of(p.profile, registry.defaultAccountsUrl));
  }

  @Authorized()
  @Query(() => ProviderView, { nullable: true, description: 'a provider by name; null where none', complexity: STORE_COST })
  async provider(@Arg('name') name: string, @Ctx() ctx: GatewayContext): Promise<ProviderView | null> {
    const registry = registryOf(ctx);
    const profile = await registry.find(name);
    return profile && ProviderView.of(profile, registry.defaultAccountsUrl);
  }

  @Authorized('admin')
  @Mutation(() => ProviderView, { description: 'registers or replaces a generic provider; for "zoho" only the limits are taken', complexity: STORE_COST })
  async saveProvider(@Arg('provider', () => ProviderInput) provider: ProviderInput, @Ctx() ctx: GatewayContext): Promise<ProviderView> {
    const registry = registryOf(ctx);
    return ProviderView.of(await registry.save(plain(provider)), registry.defaultAccountsUrl);
  }

  @Authorized('admin')
  @Mutation(() => Boolean, {
    description: 'deletes a registered provider; false where none; BAD_USER_INPUT while tokens use it (zoho cannot be deleted)',
    complexity: STORE_COST,
  })
  deleteProvider(@Arg('name') name: string, @Ctx() ctx: GatewayContext): Promise<boolean> {
    return registryOf(ctx).delete(name);
  }
}

function registryOf(ctx: GatewayContext): ProviderRegistry {
  return ctx.tokens.providers;
}

/** A GraphQL input object as plain data: left-out fields stay absent, explicit nulls stay null (limits too). */
function plain(input: ProviderInput): Record<string, unknown> {
  const out: Record<string, unknown> = { ...input };
  if (input.limits) out.limits = { ...input.limits };
  for (const key of Object.keys(out)) if (out[key] === undefined) delete out[key];
  // The input's defaults stand for "not given"; a null means the default too.
  if (out.clientAuthMethod === null) delete out.clientAuthMethod;
  if (out.pkce === null) delete out.pkce;
  return out;
}

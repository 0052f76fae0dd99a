import { Ctx, FieldResolver, Int, Resolver } from 'type-graphql';
import type { GatewayContext } from './context.type';
import { TokenPageView } from './token-page.type';

/**
 * `TokenPage.totalCount`, counted only when a query selects it: counting reads
 * the whole table, which a page does not need (a client walking 100,000
 * tokens page by page would otherwise count them on every page).
 */
@Resolver(() => TokenPageView)
export class TokenPageResolver {
  @FieldResolver(() => Int)
  totalCount(@Ctx() ctx: GatewayContext): Promise<number> {
    return ctx.tokens.countTokens();
  }
}

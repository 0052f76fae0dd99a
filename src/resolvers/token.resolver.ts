import { Arg, Authorized, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import { badInput } from '../errors';
import type { Token } from '../stores/token';
import { MAX_PAGE_SIZE } from '../stores/token-rules';
import type { GatewayContext } from './context.type';
import { actorOf } from './secret-reads.plugin';
import { TokenInputArgs, TokenMatchArgs } from './token.input';
import { TokenCountsView } from './token-counts.type';
import { TokenPageView } from './token-page.type';
import { TokenView } from './token.type';
import { TokenStatus } from './token-status.enum';

/** The cost of a root field that reads or writes the store, for the query cost limit. */
const STORE_COST = 10;
const UPSTREAM_COST = 50;

/**
 * The queries and mutations of the contract (shared/spec/graphql-api.md):
 * thin, each a call of the `TokenService` in the context. Roles are checked
 * by `authChecker`; errors are mapped to codes in one place (`formatError`).
 */
@Resolver(() => TokenView)
export class TokenResolver {
  @Authorized()
  @Query(() => TokenView, {
    nullable: true,
    description: "find_token: Zoho's lookup order; null where nothing matches",
    complexity: ({ childComplexity }) => STORE_COST + childComplexity,
  })
  async token(@Arg('match', () => TokenMatchArgs) match: TokenMatchArgs, @Ctx() ctx: GatewayContext): Promise<TokenView | null> {
    return view(ctx, await ctx.tokens.findToken(plain(match)));
  }

  @Authorized()
  @Query(() => TokenPageView, {
    description: 'get_tokens, paged in a stable order; first is 1..1000',
    complexity: ({ args, childComplexity }) => STORE_COST + childComplexity + Math.ceil(((args.first as number) ?? 100) / 10),
  })
  async tokens(
    @Arg('first', () => Int, { nullable: true, defaultValue: 100 }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Arg('userNameContains', () => String, { nullable: true, description: 'only tokens whose user name contains this text (case-insensitive)' })
    userNameContains: string | null,
    @Arg('status', () => TokenStatus, { nullable: true, description: 'only tokens in this status now (as tokenCounts counts them)' })
    status: TokenStatus | null,
    @Ctx() ctx: GatewayContext,
  ): Promise<TokenPageView> {
    const size = first ?? 100;
    if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) throw badInput(`first must be between 1 and ${MAX_PAGE_SIZE}`);
    const page =
      userNameContains || status
        ? await ctx.tokens.searchTokens(userNameContains ?? null, size, after ?? null, status ?? null, ctx.receivedAt)
        : await ctx.tokens.listTokens(size, after ?? null);
    const out = new TokenPageView();
    out.nodes = page.nodes.map((t) => view(ctx, t)!);
    out.endCursor = page.endCursor;
    out.hasNextPage = page.hasNextPage;
    return out;
  }

  @Authorized()
  @Query(() => TokenCountsView, { description: 'How many tokens are in each status now (one query over the table)', complexity: STORE_COST })
  async tokenCounts(@Ctx() ctx: GatewayContext): Promise<TokenCountsView> {
    const counts = await ctx.tokens.countByStatus(ctx.receivedAt);
    return Object.assign(new TokenCountsView(), counts);
  }

  @Authorized()
  @Query(() => TokenView, {
    nullable: true,
    description: 'find_token_by_id; null where absent',
    complexity: ({ childComplexity }) => STORE_COST + childComplexity,
  })
  async tokenById(@Arg('id', () => ID) id: string, @Ctx() ctx: GatewayContext): Promise<TokenView | null> {
    return view(ctx, await ctx.tokens.findTokenById(id));
  }

  @Authorized('operator', 'admin')
  @Mutation(() => TokenView, {
    description: 'save_token: upsert, never a duplicate. A field left out keeps its value; null clears it.',
    complexity: ({ childComplexity }) => STORE_COST + childComplexity,
  })
  async saveToken(@Arg('token', () => TokenInputArgs) token: TokenInputArgs, @Ctx() ctx: GatewayContext): Promise<TokenView> {
    const input = plain(token);
    if (input.id === null) throw badInput('id may be left out, not null');
    return view(ctx, await ctx.tokens.saveToken({ ...input, id: input.id }, actorOf(ctx)))!;
  }

  @Authorized('operator', 'admin')
  @Mutation(() => Boolean, { description: 'delete_token: false where no such id', complexity: STORE_COST })
  deleteToken(@Arg('id', () => ID) id: string, @Ctx() ctx: GatewayContext): Promise<boolean> {
    return ctx.tokens.deleteToken(id, actorOf(ctx));
  }

  @Authorized('admin')
  @Mutation(() => Int, { description: 'delete_tokens: how many were deleted', complexity: STORE_COST })
  deleteTokens(@Ctx() ctx: GatewayContext): Promise<number> {
    return ctx.tokens.deleteTokens(actorOf(ctx));
  }

  @Authorized('operator', 'admin')
  @Mutation(() => TokenView, {
    description:
      'Gets a new access token from the provider (exchanging the grant token of a PENDING_GRANT token). With force: false, only when the token is not ACTIVE. Concurrent calls share one upstream request.',
    complexity: ({ childComplexity }) => UPSTREAM_COST + childComplexity,
  })
  async refresh(
    @Arg('id', () => ID) id: string,
    @Arg('force', () => Boolean, { nullable: true, defaultValue: true }) force: boolean | null,
    @Ctx() ctx: GatewayContext,
  ): Promise<TokenView> {
    return view(ctx, await ctx.tokens.refresh(id, force ?? true, ctx.receivedAt, actorOf(ctx)))!;
  }

  @Authorized('operator', 'admin')
  @Mutation(() => Boolean, { description: 'Revokes the token at the provider, then deletes it; false where no such id', complexity: UPSTREAM_COST })
  revokeToken(@Arg('id', () => ID) id: string, @Ctx() ctx: GatewayContext): Promise<boolean> {
    return ctx.tokens.revokeToken(id, actorOf(ctx));
  }
}

function view(ctx: GatewayContext, token: Token | null): TokenView | null {
  return token && TokenView.of(token, Date.now(), ctx.tokens.refreshAheadMs);
}

/** The own enumerable fields of an input object: left-out fields stay absent, explicit nulls stay null. */
function plain<T extends object>(input: T): { [K in keyof T]: T[K] } {
  return { ...input };
}

import { Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import type { TokenBudget } from '../providers/governor';
import type { GatewayContext } from './context.type';
import { TokenBudgetView } from './token-budget.type';
import { TokenView } from './token.type';

/**
 * `Token.budget`: the governor's remaining budget of a token. The tokens of
 * one operation (a page of the list) are read together: every `budget` asked
 * for in the same turn of the event loop joins one call of the service, so a
 * page of 50 costs one read of the counters, not 50.
 */
@Resolver(() => TokenView)
export class TokenBudgetResolver {
  @FieldResolver(() => TokenBudgetView, {
    nullable: true,
    description: "what is left of the token's issuing budget now (the governor's counters); null when its provider limits no access tokens per window",
  })
  async budget(@Root() view: TokenView, @Ctx() ctx: GatewayContext): Promise<TokenBudgetView | null> {
    const budget = await loaderOf(ctx).load(view);
    return budget && TokenBudgetView.of(budget);
  }
}

/** One loader per operation's context. */
const loaders = new WeakMap<GatewayContext, BudgetLoader>();

function loaderOf(ctx: GatewayContext): BudgetLoader {
  let loader = loaders.get(ctx);
  if (!loader) loaders.set(ctx, (loader = new BudgetLoader(ctx)));
  return loader;
}

interface Pending {
  token: { id: string; provider: string };
  resolve: (budget: TokenBudget | null) => void;
  reject: (err: unknown) => void;
}

class BudgetLoader {
  private pending: Pending[] = [];

  constructor(private readonly ctx: GatewayContext) {}

  load(token: { id: string; provider: string }): Promise<TokenBudget | null> {
    return new Promise((resolve, reject) => {
      // After the resolvers of the current turn have all asked (as DataLoader schedules its batches).
      if (this.pending.length === 0) void Promise.resolve().then(() => process.nextTick(() => void this.flush()));
      this.pending.push({ token: { id: token.id, provider: token.provider }, resolve, reject });
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    try {
      const budgets = await this.ctx.tokens.budgets(batch.map((p) => p.token));
      for (const p of batch) p.resolve(budgets.get(p.token.id) ?? null);
    } catch (err) {
      for (const p of batch) p.reject(err);
    }
  }
}

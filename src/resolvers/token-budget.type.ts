import { Field, Int, ObjectType } from 'type-graphql';
import { GraphQLDateTimeISO } from 'graphql-scalars';
import type { TokenBudget } from '../providers/governor';

@ObjectType('TokenBudget', {
  description: "What is left of a token's issuing budget now, by the governor's counters (shared by every gateway process on the database)",
})
export class TokenBudgetView {
  @Field(() => Int, {
    description:
      'access tokens a caller may still have minted now: the room in the rolling window and under the alive cap; 0 while the provider blocks the token',
  })
  accessTokensLeft: number;

  @Field(() => Int, { description: "the provider's access tokens per window" })
  accessTokensPerWindow: number;

  @Field(() => Int, { description: 'the rolling window, in seconds' })
  windowSeconds: number;

  @Field(() => GraphQLDateTimeISO, {
    nullable: true,
    description: 'when every mint counted now has left the window (the whole budget is back); null when none is counted',
  })
  resetsAt: Date | null;

  @Field(() => GraphQLDateTimeISO, { nullable: true, description: 'when the next access token may be minted, when none may be now; null when one may' })
  nextAt: Date | null;

  static of(budget: TokenBudget): TokenBudgetView {
    const view = new TokenBudgetView();
    view.accessTokensLeft = budget.left;
    view.accessTokensPerWindow = budget.perWindow;
    view.windowSeconds = budget.windowSeconds;
    view.resetsAt = budget.resetsAt === null ? null : new Date(budget.resetsAt);
    view.nextAt = budget.nextAt === null ? null : new Date(budget.nextAt);
    return view;
  }
}

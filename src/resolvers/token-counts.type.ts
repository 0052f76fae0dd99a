import { Field, Int, ObjectType } from 'type-graphql';

@ObjectType('TokenCounts', { description: 'How many tokens are in each status now' })
export class TokenCountsView {
  @Field(() => Int)
  total: number;

  @Field(() => Int)
  active: number;

  @Field(() => Int)
  expiring: number;

  @Field(() => Int)
  expired: number;

  @Field(() => Int)
  pendingGrant: number;

  @Field(() => Int, { description: 'held back by the issuing limits of the provider until their window opens' })
  throttled: number;

  @Field(() => Int)
  failed: number;
}

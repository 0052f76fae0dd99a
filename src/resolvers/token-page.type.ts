import { Field, Int, ObjectType } from 'type-graphql';
import { TokenView } from './token.type';

@ObjectType('TokenPage', { description: 'A page of tokens in a stable order; pass endCursor as `after` for the next' })
export class TokenPageView {
  @Field(() => [TokenView])
  nodes: TokenView[];

  /** Resolved by `TokenPageResolver`, only when selected. */
  @Field(() => Int)
  totalCount?: number;

  @Field(() => String, { nullable: true })
  endCursor: string | null;

  @Field()
  hasNextPage: boolean;
}

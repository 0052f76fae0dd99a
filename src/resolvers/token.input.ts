import { Field, ID, InputType, Int } from 'type-graphql';
import { GraphQLDateTimeISO } from 'graphql-scalars';

/**
 * The token of `saveToken`. A field left out keeps its stored value; a field
 * given as `null` clears it (`{ accessToken: null }` removes the access
 * token). Give `expiresAt` or `expiresIn`, not both.
 */
@InputType('TokenInput')
export class TokenInputArgs {
  @Field(() => ID, { nullable: true })
  id?: string | null;

  @Field(() => String, { nullable: true })
  userName?: string | null;

  @Field(() => String, { nullable: true })
  clientId?: string | null;

  @Field(() => String, { nullable: true })
  clientSecret?: string | null;

  @Field(() => String, { nullable: true })
  accessToken?: string | null;

  @Field(() => String, { nullable: true })
  refreshToken?: string | null;

  @Field(() => String, { nullable: true })
  grantToken?: string | null;

  @Field(() => String, { nullable: true })
  redirectUrl?: string | null;

  @Field(() => String, { nullable: true })
  apiDomain?: string | null;

  @Field(() => String, { nullable: true, description: 'must be on the allow-list; default: the data center of apiDomain, else TOKENGATE_ACCOUNTS_URL' })
  accountsUrl?: string | null;

  @Field(() => String, { nullable: true, description: 'the name of a registered provider (default zoho); fixed when the token is first saved' })
  provider?: string | null;

  @Field(() => GraphQLDateTimeISO, { nullable: true, description: 'either this ...' })
  expiresAt?: Date | null;

  @Field(() => Int, { nullable: true, description: '... or seconds from now, as the provider returns it' })
  expiresIn?: number | null;
}

/** The partial token of `token` (Zoho's find_token). */
@InputType('TokenMatchInput')
export class TokenMatchArgs {
  @Field(() => String, { nullable: true })
  userName?: string | null;

  @Field(() => String, { nullable: true })
  accessToken?: string | null;

  @Field(() => String, { nullable: true })
  refreshToken?: string | null;

  @Field(() => String, { nullable: true })
  grantToken?: string | null;

  @Field(() => String, { nullable: true })
  clientId?: string | null;

  @Field(() => String, { nullable: true })
  clientSecret?: string | null;
}

import { Field, ID, ObjectType } from 'type-graphql';
import { GraphQLDateTimeISO } from 'graphql-scalars';
import type { SecretField, Token } from '../stores/token';
import { hasSecret } from '../stores/sealed-secrets';
import { tokenStatus } from '../stores/token-status';
import { isThrottledAnswer } from '../oauth/refresh-engine';
import { TokenStatus } from './token-status.enum';

/**
 * The GraphQL view of a stored token. Secret fields resolve only for the
 * roles that may read them; for any other role they are `null` with a
 * `FORBIDDEN` field error, and the rest of the token is served. Every
 * secret a response carries is noted for the audit trail (`READ_SECRET`).
 * The secret fields are resolved by `TokenSecretsResolver`.
 */
@ObjectType('Token', { description: 'A stored OAuth token (Zoho OAuthToken) and its state' })
export class TokenView {
  @Field(() => ID)
  id: string;

  @Field(() => String, { nullable: true, description: "the Zoho user signature's name (user_name column)" })
  userName: string | null;

  @Field(() => String, { nullable: true })
  clientId: string | null;

  @Field(() => String, { nullable: true })
  redirectUrl: string | null;

  @Field(() => String, { nullable: true })
  apiDomain: string | null;

  @Field(() => String, { nullable: true, description: 'where this token refreshes' })
  accountsUrl: string | null;

  @Field(() => GraphQLDateTimeISO, { nullable: true, description: 'when the access token expires' })
  expiresAt: Date | null;

  @Field(() => TokenStatus)
  status: TokenStatus;

  @Field()
  hasAccessToken: boolean;

  @Field()
  hasRefreshToken: boolean;

  @Field()
  hasGrantToken: boolean;

  @Field(() => GraphQLDateTimeISO, { nullable: true })
  lastRefreshedAt: Date | null;

  @Field(() => String, { nullable: true, description: "the provider's error code of the last failed refresh" })
  lastError: string | null;

  @Field(() => String, { description: 'the provider profile the token belongs to (zoho unless saved with another)' })
  provider: string;

  @Field(() => String, {
    nullable: true,
    description: 'the OAuth client the token was connected through (its name); null for tokens saved or imported without one',
  })
  client: string | null;

  @Field({ description: 'true on a refresh result when the governor answered the held, still valid access token instead of minting (false everywhere else)' })
  throttled: boolean;

  @Field(() => GraphQLDateTimeISO, {
    nullable: true,
    description: "until when the provider's issuing limits hold the token back (a refresh before then fails with THROTTLED); null unless status is THROTTLED",
  })
  throttledUntil: Date | null;

  @Field(() => GraphQLDateTimeISO)
  createdAt: Date;

  @Field(() => GraphQLDateTimeISO)
  updatedAt: Date;

  /**
   * A secret of the stored token (decrypted now, from an encrypted store).
   * Only `TokenSecretsResolver` calls this, after the role check: the four
   * secret fields of `Token` are its field resolvers.
   */
  secret(field: SecretField): string | null {
    return this.token[field];
  }

  /**
   * The stored token behind the view. Its secrets are read (and, from an
   * encrypted store, decrypted) only when a response selects them and the
   * caller's role may see them.
   */
  private token!: Token;

  static of(token: Token, now: number, refreshAheadMs: number): TokenView {
    const view = new TokenView();
    view.token = token;
    view.id = token.id;
    view.userName = token.userName;
    view.clientId = token.clientId;
    view.redirectUrl = token.redirectUrl;
    view.apiDomain = token.apiDomain;
    view.accountsUrl = token.accountsUrl;
    view.expiresAt = token.expiresAt;
    view.status = tokenStatus(token, now, refreshAheadMs) as TokenStatus;
    view.hasAccessToken = hasSecret(token, 'accessToken');
    view.hasRefreshToken = hasSecret(token, 'refreshToken');
    view.hasGrantToken = hasSecret(token, 'grantToken');
    view.lastRefreshedAt = token.lastRefreshedAt;
    view.lastError = token.lastError;
    view.provider = token.provider;
    view.client = token.client;
    view.throttled = isThrottledAnswer(token);
    // Kept on the stored token with its status: no read of the governor's counters.
    view.throttledUntil = view.status === TokenStatus.THROTTLED ? token.throttledUntil : null;
    view.createdAt = token.createdAt;
    view.updatedAt = token.updatedAt;
    return view;
  }
}

import { Field, ID, InputType, ObjectType } from 'type-graphql';
import { GraphQLDateTimeISO } from 'graphql-scalars';
import type { OAuthClient } from '../stores/client-store';

/**
 * The GraphQL view of an OAuth client of the connect flow. Its secret is
 * resolved by `ClientResolver.clientSecret`, for admin keys only.
 */
@ObjectType('Client', { description: 'An OAuth client registered at a provider: what the connect flow sends a person to the consent screen with' })
export class ClientView {
  @Field(() => ID)
  id: string;

  @Field({ description: 'unique, URL-safe: how startConnect names it' })
  name: string;

  @Field({ description: 'the provider profile (zoho, or a registered generic provider)' })
  provider: string;

  @Field({ description: 'the client id at the provider' })
  clientId: string;

  @Field(() => [String], { description: 'the scopes a connect asks for when it names none' })
  scopes: string[];

  @Field({ description: 'the redirect URI registered at the provider: TOKENGATE_PUBLIC_URL + /oauth/callback' })
  redirectUrl: string;

  @Field(() => String, {
    nullable: true,
    description: "Zoho: the accounts server of the consent screen (each token then refreshes at its user's data center); null for a generic provider",
  })
  accountsUrl: string | null;

  @Field(() => GraphQLDateTimeISO)
  createdAt: Date;

  @Field(() => GraphQLDateTimeISO)
  updatedAt: Date;

  /** The stored client behind the view: its secret is read (from a SQL store, decrypted) only after the role check. */
  private client!: OAuthClient;

  secret(): string {
    return this.client.clientSecret;
  }

  static of(client: OAuthClient): ClientView {
    const view = new ClientView();
    view.client = client;
    view.id = client.id;
    view.name = client.name;
    view.provider = client.provider;
    view.clientId = client.clientId;
    view.scopes = [...client.scopes];
    view.redirectUrl = client.redirectUrl;
    view.accountsUrl = client.accountsUrl;
    view.createdAt = client.createdAt;
    view.updatedAt = client.updatedAt;
    return view;
  }
}

@InputType('ClientInput', { description: 'An OAuth client to register, or to replace (by name)' })
export class ClientInput {
  @Field({ description: 'unique, URL-safe: 1 to 64 letters, digits, _ or -' })
  name: string;

  @Field(() => String, { nullable: true, defaultValue: 'zoho', description: 'a registered provider' })
  provider?: string | null;

  @Field()
  clientId: string;

  @Field(() => String, { nullable: true, description: 'required for a new client; left out, a saved client keeps its secret' })
  clientSecret?: string | null;

  @Field(() => [String], { nullable: true, description: 'default scopes, e.g. ["ZohoCRM.modules.ALL"]' })
  scopes?: string[] | null;

  @Field(() => String, { nullable: true, description: 'must be TOKENGATE_PUBLIC_URL + /oauth/callback (the default)' })
  redirectUrl?: string | null;

  @Field(() => String, { nullable: true, description: 'Zoho: the accounts server of the consent screen, on the allow-list (default TOKENGATE_ACCOUNTS_URL)' })
  accountsUrl?: string | null;
}

@InputType('StartConnectInput', { description: 'What startConnect sends a person to the provider for' })
export class StartConnectInput {
  @Field({ description: 'the OAuth client, by name' })
  client: string;

  @Field(() => String, {
    nullable: true,
    description: "the user the token is saved under (a token of that user name is updated: Zoho's save rules); required unless tokenId is given",
  })
  userName?: string | null;

  @Field(() => [String], { nullable: true, description: "default: the client's scopes" })
  scopes?: string[] | null;

  @Field(() => String, {
    nullable: true,
    description:
      'where the browser comes back with ?connect=ok&token=<id> or ?connect=error&reason=<reason>: an origin of TOKENGATE_CONNECT_RETURN_ORIGINS; without it the callback shows a small page',
  })
  returnTo?: string | null;

  @Field(() => ID, { nullable: true, description: 'reconnect this token in place (e.g. a FAILED one): its id and history are kept, its credentials replaced' })
  tokenId?: string | null;

  @Field(() => Boolean, {
    nullable: true,
    defaultValue: false,
    description: "at the provider's refresh-token limit for this user and client, replace the oldest instead of refusing with REFRESH_TOKEN_LIMIT",
  })
  replaceOldest?: boolean | null;
}

@ObjectType('ConnectStart', { description: 'A started connect: send the browser to authorizationUrl before expiresAt' })
export class ConnectStartView {
  @Field({ description: "the provider's consent screen, with a single-use state" })
  authorizationUrl: string;

  @Field(() => GraphQLDateTimeISO, { description: 'when the connect stops waiting for the provider to send the browser back' })
  expiresAt: Date;
}

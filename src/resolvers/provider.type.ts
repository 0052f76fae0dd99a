import { Field, InputType, Int, ObjectType } from 'type-graphql';
import type { ProviderLimits, ProviderProfile } from '../providers/provider';

@ObjectType('ProviderLimits', { description: "A provider's issuing limits, counted by the governor across every gateway process; null = no such limit" })
export class ProviderLimitsView {
  @Field(() => Int, { nullable: true, description: 'access tokens per refresh token in any rolling window (Zoho: 10)' })
  accessTokensPerWindow: number | null;

  @Field(() => Int, { nullable: true, description: 'the rolling window, in seconds (Zoho: 600)' })
  windowSeconds: number | null;

  @Field(() => Int, { nullable: true, description: 'access tokens alive at once per refresh token (Zoho: 15; alive = minted within the token lifetime)' })
  maxAliveAccessTokens: number | null;

  @Field(() => Int, { nullable: true, description: 'refresh tokens per user and client (Zoho: 20)' })
  refreshTokensPerUser: number | null;

  @Field(() => Int, { nullable: true, description: 'grant exchanges per client in any rolling window (Zoho: 10)' })
  grantsPerWindow: number | null;

  @Field(() => Int, { nullable: true, description: 'how long a minted access token counts as alive, in seconds (Zoho: 3600)' })
  accessTokenLifetimeSeconds: number | null;

  static of(limits: ProviderLimits): ProviderLimitsView {
    return Object.assign(new ProviderLimitsView(), limits);
  }
}

@ObjectType('Provider', { description: 'A provider profile: Zoho (built in) or a generic OAuth 2.0 server registered by an admin' })
export class ProviderView {
  @Field()
  name: string;

  @Field({ description: 'zoho or oauth2' })
  kind: string;

  @Field(() => String, {
    nullable: true,
    description: "the authorization endpoint (for Zoho, at the default accounts server; each token uses its data center's)",
  })
  authorizationUrl: string | null;

  @Field({ description: "the token endpoint (for Zoho, at the default accounts server; each token uses its data center's)" })
  tokenUrl: string;

  @Field(() => String, { nullable: true, description: 'the RFC 7009 revocation endpoint, when the provider has one' })
  revocationUrl: string | null;

  @Field({ description: 'client_secret_basic or client_secret_post' })
  clientAuthMethod: string;

  @Field({ description: 'whether the connect flow uses PKCE (S256)' })
  pkce: boolean;

  @Field(() => ProviderLimitsView)
  limits: ProviderLimitsView;

  static of(profile: ProviderProfile, defaultAccountsUrl: string): ProviderView {
    const accounts = profile.usesAccountsUrl ? defaultAccountsUrl : null;
    const view = new ProviderView();
    view.name = profile.name;
    view.kind = profile.kind;
    view.authorizationUrl = profile.authorizationUrl(accounts);
    view.tokenUrl = profile.tokenEndpoint(accounts).url;
    view.revocationUrl = profile.revocationEndpoint(accounts)?.url ?? null;
    view.clientAuthMethod = profile.clientAuthMethod;
    view.pkce = profile.pkce;
    view.limits = ProviderLimitsView.of(profile.limits);
    return view;
  }
}

@InputType('ProviderLimitsInput', { description: 'A limit left out keeps the profile default; null means no such limit' })
export class ProviderLimitsInput {
  @Field(() => Int, { nullable: true })
  accessTokensPerWindow?: number | null;

  @Field(() => Int, { nullable: true })
  windowSeconds?: number | null;

  @Field(() => Int, { nullable: true })
  maxAliveAccessTokens?: number | null;

  @Field(() => Int, { nullable: true })
  refreshTokensPerUser?: number | null;

  @Field(() => Int, { nullable: true })
  grantsPerWindow?: number | null;

  @Field(() => Int, { nullable: true })
  accessTokenLifetimeSeconds?: number | null;
}

@InputType('ProviderInput', { description: 'A provider to register; tokenUrl is required except for "zoho", of which only the limits are taken' })
export class ProviderInput {
  @Field()
  name: string;

  @Field(() => String, { nullable: true })
  tokenUrl?: string | null;

  @Field(() => String, { nullable: true })
  authorizationUrl?: string | null;

  @Field(() => String, { nullable: true })
  revocationUrl?: string | null;

  @Field(() => String, { nullable: true, defaultValue: 'client_secret_basic' })
  clientAuthMethod?: string | null;

  @Field(() => Boolean, { nullable: true, defaultValue: false })
  pkce?: boolean | null;

  @Field(() => ProviderLimitsInput, { nullable: true })
  limits?: ProviderLimitsInput | null;
}

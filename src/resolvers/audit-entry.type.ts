import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLDateTimeISO } from 'graphql-scalars';
import type { AuditEntry, AuditAction as Action, AuditOutcome as Outcome } from '../audit/audit';

export enum AuditAction {
  SAVE = 'SAVE',
  DELETE = 'DELETE',
  DELETE_ALL = 'DELETE_ALL',
  REFRESH = 'REFRESH',
  REVOKE = 'REVOKE',
  IMPORT = 'IMPORT',
  READ_SECRET = 'READ_SECRET',
  KEY_ROTATION = 'KEY_ROTATION',
  NOTIFY = 'NOTIFY',
  PROXY = 'PROXY',
  CONNECT = 'CONNECT',
}

export enum AuditOutcome {
  OK = 'OK',
  REFUSED = 'REFUSED',
  UNAVAILABLE = 'UNAVAILABLE',
  ERROR = 'ERROR',
}

// The enums and the audit module's unions must stay the same sets.
const _actions: Record<Action, AuditAction> = AuditAction;
const _outcomes: Record<Outcome, AuditOutcome> = AuditOutcome;
void _actions;
void _outcomes;

registerEnumType(AuditAction, {
  name: 'AuditAction',
  description: 'What an audit entry records',
  valuesConfig: {
    SAVE: { description: 'saveToken (fields: the names of the fields given)' },
    DELETE: { description: 'deleteToken' },
    DELETE_ALL: { description: 'deleteTokens (one entry per token deleted)' },
    REFRESH: { description: 'a refresh or grant exchange that reached the provider; outcome and errorCode say how it went' },
    REVOKE: { description: 'revokeToken' },
    IMPORT: { description: 'a token written by an import' },
    READ_SECRET: { description: 'an API key read secret fields of the token (fields: which); count: identical reads within a second' },
    KEY_ROTATION: { description: 'tokengate keys rotate re-encrypted stored secrets under the newest key' },
    NOTIFY: { description: 'a webhook event about the token was queued (detail: its type)' },
    PROXY: {
      description: 'calls through the API proxy with the token in one calendar minute (count: how many; detail: answers by status class; at: the minute)',
    },
    CONNECT: {
      description: 'the connect flow stored the token, new or with its credentials replaced (actor: who started the connect; detail: connected or reconnected)',
    },
  },
});

registerEnumType(AuditOutcome, {
  name: 'AuditOutcome',
  description: 'How the recorded action went',
  valuesConfig: {
    OK: { description: 'done' },
    REFUSED: { description: 'the provider refused (errorCode: its code, e.g. invalid_code)' },
    UNAVAILABLE: { description: 'the provider could not be reached, timed out or failed (errorCode: the reason)' },
    ERROR: { description: 'something else went wrong' },
  },
});

@ObjectType('AuditEntry', { description: 'Who did what to a token, and when. Never a secret value: field names only.' })
export class AuditEntryView {
  @Field(() => ID)
  id: string;

  @Field(() => GraphQLDateTimeISO)
  at: Date;

  @Field(() => AuditAction)
  action: AuditAction;

  @Field(() => ID, { nullable: true })
  tokenId: string | null;

  @Field({ description: 'viewer, operator or admin (an API key), or system (background refresh, cli, webhooks, …)' })
  actorRole: string;

  @Field({ description: "the API key's name (never the key), or the system component" })
  actorName: string;

  @Field(() => AuditOutcome)
  outcome: AuditOutcome;

  @Field(() => String, { nullable: true, description: "the provider's error code of a refused refresh, or the reason of an unavailable one" })
  errorCode: string | null;

  @Field(() => [String], { description: 'field names: written by a save, or the secret fields a read returned' })
  fields: string[];

  @Field(() => String, { nullable: true })
  detail: string | null;

  @Field(() => String, { nullable: true, description: 'the X-Request-Id of the API request' })
  requestId: string | null;

  @Field(() => Int, { description: 'how many identical reads this entry stands for (1 for everything else)' })
  count: number;

  static of(e: AuditEntry): AuditEntryView {
    const v = new AuditEntryView();
    v.id = e.id;
    v.at = e.at;
    v.action = e.action as AuditAction;
    v.tokenId = e.tokenId;
    v.actorRole = e.actorRole;
    v.actorName = e.actorName;
    v.outcome = e.outcome as AuditOutcome;
    v.errorCode = e.errorCode;
    v.fields = e.fields;
    v.detail = e.detail;
    v.requestId = e.requestId;
    v.count = e.count;
    return v;
  }
}

@ObjectType('AuditPage', { description: 'A page of the audit trail, newest first; pass endCursor as `after` for older entries' })
export class AuditPageView {
  @Field(() => [AuditEntryView])
  nodes: AuditEntryView[];

  @Field(() => String, { nullable: true })
  endCursor: string | null;

  @Field()
  hasNextPage: boolean;
}

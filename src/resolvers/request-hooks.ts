import type {
  ApolloServerPlugin,
  BaseContext,
  GraphQLRequestContext,
  GraphQLRequestContextDidResolveOperation,
  GraphQLRequestContextWillSendResponse,
  GraphQLRequestListener,
} from '@apollo/server';

/**
 * What one concern does during a GraphQL request (the query cost limit, the
 * metrics and log line, the audit of secret reads, the 503 of an unavailable
 * store): plain functions that return a promise only when they must wait.
 */
export interface RequestHooks<C extends BaseContext> {
  didResolveOperation?(ctx: GraphQLRequestContextDidResolveOperation<C>): void | Promise<void>;
  willSendResponse?(ctx: GraphQLRequestContextWillSendResponse<C>): void | Promise<void>;
}

/** A concern: called when a request starts, returns its hooks for that request (or none). */
export type RequestConcern<C extends BaseContext> = (ctx: GraphQLRequestContext<C>) => RequestHooks<C> | undefined;

/**
 * One Apollo plugin for all of the gateway's per-request concerns, run in
 * the order given (a hook that throws, such as the cost limit's, ends that
 * stage: put the concerns that must see every request first).
 *
 * Why not one plugin each: Apollo runs every stage of a request through
 * every plugin's listener, each call an async function and a promise to
 * await (responseForOperation, executionDidStart, …, even when a plugin has
 * no such hook). Four listeners cost several µs of every request, a few per
 * cent of a `{ __typename }`; one listener whose hooks call plain functions
 * costs one.
 */
export function requestHooksPlugin<C extends BaseContext>(concerns: ReadonlyArray<RequestConcern<C>>): ApolloServerPlugin<C> {
  return {
    async requestDidStart(ctx) {
      const hooks: RequestHooks<C>[] = [];
      for (const concern of concerns) {
        const h = concern(ctx);
        if (h) hooks.push(h);
      }
      return hooks.length > 0 ? new CombinedListener(hooks) : undefined;
    },
  };
}

class CombinedListener<C extends BaseContext> implements GraphQLRequestListener<C> {
  constructor(private readonly hooks: RequestHooks<C>[]) {}

  async didResolveOperation(ctx: GraphQLRequestContextDidResolveOperation<C>): Promise<void> {
    for (const h of this.hooks) {
      const waiting = h.didResolveOperation?.(ctx);
      if (waiting) await waiting;
    }
  }

  async willSendResponse(ctx: GraphQLRequestContextWillSendResponse<C>): Promise<void> {
    for (const h of this.hooks) {
      const waiting = h.willSendResponse?.(ctx);
      if (waiting) await waiting;
    }
  }
}

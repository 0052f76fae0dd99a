import type { AuditActor } from '../audit/audit';
import type { GatewayContext } from './context.type';
import type { RequestConcern, RequestHooks } from './request-hooks';

/** The actor of an API request, for the audit trail: role, key name, request id (never the key). */
export const actorOf = (ctx: Pick<GatewayContext, 'principal' | 'requestId'>): AuditActor => ({
  role: ctx.principal.role,
  name: ctx.principal.keyName,
  requestId: ctx.requestId,
});

/**
 * When a response leaves, records one `READ_SECRET` audit entry per token
 * whose secrets it carried, naming the fields (asynchronously, batched by
 * the `AuditTrail`: the response does not wait for the audit table). Only
 * when the audit table has fallen far behind (`AuditTrail.backpressure`: more
 * than a few batches waiting) does a response that read secrets wait for it
 * to catch up, so that a client reading secrets faster than they can be
 * recorded is slowed down rather than its reads going unrecorded.
 */
export function secretReads(): RequestConcern<GatewayContext> {
  const hooks: RequestHooks<GatewayContext> = {
    willSendResponse({ contextValue }) {
      const reads = contextValue?.secretReads;
      if (!reads || reads.size === 0 || !contextValue.audit) return;
      const actor = actorOf(contextValue);
      for (const { tokenId, fields } of reads.entries()) contextValue.audit.record({ action: 'READ_SECRET', actor, tokenId, fields });
      return contextValue.audit.backpressure() ?? undefined;
    },
  };
  return () => hooks;
}

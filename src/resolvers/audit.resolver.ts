import { Arg, Authorized, Ctx, ID, Int, Query, Resolver } from 'type-graphql';
import { MAX_AUDIT_PAGE } from '../audit/audit';
import { badInput } from '../errors';
import { AuditEntryView, AuditPageView } from './audit-entry.type';
import type { GatewayContext } from './context.type';

const STORE_COST = 10;

/** The audit trail, for admins. */
@Resolver()
export class AuditResolver {
  @Authorized('admin')
  @Query(() => AuditPageView, {
    description: 'The audit trail, newest first (admin): every save, delete, refresh, revoke, import and secret read. first is 1..1000.',
    complexity: ({ args, childComplexity }) => STORE_COST + childComplexity + Math.ceil(((args.first as number) ?? 100) / 10),
  })
  async auditLog(
    @Arg('first', () => Int, { nullable: true, defaultValue: 100 }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Arg('tokenId', () => ID, { nullable: true, description: 'only the entries of this token' }) tokenId: string | null,
    @Ctx() ctx: GatewayContext,
  ): Promise<AuditPageView> {
    const size = first ?? 100;
    if (!Number.isInteger(size) || size < 1 || size > MAX_AUDIT_PAGE) throw badInput(`first must be between 1 and ${MAX_AUDIT_PAGE}`);
    if (!ctx.audit) throw new Error('the audit trail is not wired into this gateway');
    const page = await ctx.audit.list({ first: size, after: after ?? null, tokenId: tokenId ?? null });
    const out = new AuditPageView();
    out.nodes = page.nodes.map(AuditEntryView.of);
    out.endCursor = page.endCursor;
    out.hasNextPage = page.hasNextPage;
    return out;
  }
}

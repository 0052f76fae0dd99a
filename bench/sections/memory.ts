/**
 * Memory: a fresh gateway process on the large table; an admin pages through
 * every token with `tokens(first: 1000, after: $cursor)`, asking for the
 * access token (so every page is decrypted), one page at a time. Reported:
 * the process's peak resident set size (`VmHWM` of /proc/<pid>/status) at the
 * end, against its resident size right after start.
 */
import { gql, type BenchContext } from '../lib/context';
import type { Dataset } from '../lib/datasets';
import type { BenchStore } from '../lib/options';
import { statusKb } from '../lib/proc';
import { figure } from '../lib/report';
import { round } from '../lib/stats';
import { sizeLabel } from './http';

const PAGE = 'query Page($after: String) { tokens(first: 1000, after: $after) { nodes { id userName status expiresAt accessToken } endCursor hasNextPage } }';

/** The sum of a metric's samples in a Prometheus text exposition (null when absent). */
function metric(text: string, name: string): number | null {
  let sum: number | null = null;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum = (sum ?? 0) + Number(m[1]);
  return sum;
}

interface Page {
  tokens: { nodes: Array<{ id: string; accessToken: string | null }>; endCursor: string | null; hasNextPage: boolean };
}

/** The heap limits the section runs under: V8's default, and one a small container would have. */
const HEAP_LIMITS = [
  { suffix: '', label: '', nodeOptions: null },
  { suffix: '.heap128', label: ', --max-old-space-size=128', nodeOptions: '--max-old-space-size=128' },
] as const;

export async function memorySection(ctx: BenchContext): Promise<void> {
  for (const kind of ctx.options.stores) {
    const ds = await ctx.datasets.get(kind, 'large');
    for (const limit of HEAP_LIMITS) await walk(ctx, kind, ds, limit);
  }
}

async function walk(ctx: BenchContext, kind: BenchStore, ds: Dataset, limit: (typeof HEAP_LIMITS)[number]): Promise<void> {
  const env = limit.nodeOptions === null ? ds.gatewayEnv : { ...ds.gatewayEnv, NODE_OPTIONS: limit.nodeOptions };
  const gw = await ctx.startGateway(`memory-${kind}${limit.suffix}`, env);
  try {
    const startKb = statusKb(gw.pid, 'VmRSS');
    const started = performance.now();
    let after: string | null = null;
    let seen = 0;
    let pages = 0;
    for (;;) {
      const page: Page = await gql<Page>(gw.url, ctx.keys.admin, PAGE, { after });
      pages++;
      for (const n of page.tokens.nodes) if (!n.accessToken) throw new Error(`token ${n.id} came without its access token`);
      seen += page.tokens.nodes.length;
      if (!page.tokens.hasNextPage) break;
      after = page.tokens.endCursor;
    }
    const seconds = (performance.now() - started) / 1000;
    const peakKb = statusKb(gw.pid, 'VmHWM');
    const endKb = statusKb(gw.pid, 'VmRSS');
    if (seen !== ds.size) throw new Error(`paging saw ${seen} tokens, expected ${ds.size}`);
    // The V8 heap at the end, from the gateway's own metrics (prom-client's default metrics).
    const metrics = await fetch(`${gw.url}/metrics`)
      .then((r) => r.text())
      .catch(() => '');
    const mb = (v: number | null) => (v === null ? null : round(v / 2 ** 20, 1));
    const heap = {
      heapUsedMb: mb(metric(metrics, 'tokengate_nodejs_heap_size_used_bytes')),
      heapTotalMb: mb(metric(metrics, 'tokengate_nodejs_heap_size_total_bytes')),
      externalMb: mb(metric(metrics, 'tokengate_nodejs_external_memory_bytes')),
      rssAtEndMb: round(endKb / 1024, 1),
      auditEntriesLost: metric(metrics, 'tokengate_audit_entries_lost_total'),
    };
    ctx.log(
      `memory ${kind}${limit.label}: ${seen} tokens in ${pages} pages, ${seconds.toFixed(1)} s; RSS after start ${Math.round(startKb / 1024)} MB, peak ${Math.round(peakKb / 1024)} MB, ` +
        `at the end ${Math.round(endKb / 1024)} MB (V8 heap ${heap.heapUsedMb ?? '?'} MB used of ${heap.heapTotalMb ?? '?'} MB)` +
        (heap.auditEntriesLost ? `; ${heap.auditEntriesLost} audit entries lost` : ''),
    );
    ctx.add(
      figure({
        id: `memory.${kind}.peakRss${limit.suffix}`,
        section: 'memory',
        label: `${kind} paging ${sizeLabel(ds.size)} tokens (1,000 a page${limit.label}): peak RSS`,
        value: round(peakKb / 1024, 1),
        unit: 'MB',
        reference: { label: 'RSS after start', value: round(startKb / 1024, 1), unit: 'MB' },
        target: { of: 'value', op: '<', value: 200 },
        detail: { pages, seconds: round(seconds, 2), tokensPerSecond: round(seen / seconds), ...heap },
      }),
    );
  } finally {
    await ctx.stopGateway(gw);
  }
}

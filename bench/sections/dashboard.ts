/**
 * Dashboard: the first view of the connections list in headless Chromium, with
 * the large table stored (100,000 tokens in a complete run). Measured inside
 * the page: from the start of the navigation to the first rows and the
 * counts on screen (signed in already, caches empty: a new browser context per
 * load). Also checks that the page's assets go out compressed.
 */
import { launchOfflineBrowser, newOfflinePage } from '../../test/support/browser';
import type { BenchContext } from '../lib/context';
import { figure } from '../lib/report';
import { median, round } from '../lib/stats';
import { sizeLabel } from './http';

const LOADS = 7;

export async function dashboardSection(ctx: BenchContext): Promise<void> {
  const browser = await launchOfflineBrowser();
  try {
    for (const kind of ctx.options.stores) {
      const ds = await ctx.datasets.get(kind, 'large');
      const gw = await ctx.startGateway(`dashboard-${kind}`, ds.gatewayEnv);
      try {
        const times: number[] = [];
        for (let i = 0; i < LOADS; i++) {
          const page = await newOfflinePage(browser, gw.url);
          try {
            const signIn = await page.request.post(`${gw.url}/session`, { data: { apiKey: ctx.keys.viewer } });
            if (!signIn.ok()) throw new Error(`sign-in answered ${signIn.status()}`);
            await page.goto(`${gw.url}/`);
            await page.waitForSelector('table.tokens tbody tr');
            await page.waitForSelector('.counts');
            times.push(await page.evaluate(() => performance.now()));
          } finally {
            await page.context().close();
          }
        }
        const ms = median(times.slice(1));
        ctx.add(
          figure({
            id: `dashboard.${kind}.firstView.${ds.size}`,
            section: 'dashboard',
            label: `dashboard first view, ${kind}, ${sizeLabel(ds.size)} tokens (median of ${LOADS - 1} loads after one warm-up)`,
            value: round(ms, 0),
            unit: 'ms',
            target: { of: 'value', op: '<', value: 1000 },
            detail: { loadsMs: times.map((t) => round(t, 0)) },
          }),
        );

        const encodings: string[] = [];
        for (const asset of ['/', '/ui/app.js', '/ui/app.css']) {
          const res = await fetch(`${gw.url}${asset}`, { headers: { 'accept-encoding': 'br, gzip' } });
          await res.arrayBuffer();
          encodings.push(`${asset} ${res.headers.get('content-encoding') ?? 'identity'}`);
        }
        const compressed = encodings.filter((e) => !e.endsWith('identity')).length;
        ctx.add(
          figure({
            id: `dashboard.${kind}.assetsCompressed`,
            section: 'dashboard',
            label: `dashboard assets sent compressed when asked (${encodings.join('; ')})`,
            value: compressed,
            unit: `of ${encodings.length}`,
            target: { of: 'value', op: '==', value: encodings.length },
          }),
        );
      } finally {
        await ctx.stopGateway(gw);
      }
    }
  } finally {
    await browser.close();
  }
}

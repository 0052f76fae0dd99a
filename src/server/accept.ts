interface Range {
  type: string;
  subtype: string;
  q: number;
  /** Position in the header. */
  order: number;
}

function parseAccept(header: string): Range[] {
  const out: Range[] = [];
  header.split(',').forEach((part, order) => {
    const [range, ...params] = part.trim().split(';');
    const m = /^([^/\s]+)\/([^/\s]+)$/.exec(range!.trim().toLowerCase());
    if (!m) return;
    let q = 1;
    for (const p of params) {
      const [k, v] = p.trim().split('=');
      if (k?.trim() === 'q') q = Number(v) || 0;
    }
    out.push({ type: m[1]!, subtype: m[2]!, q, order });
  });
  return out;
}

/**
 * The media type among `offered` that an `Accept` header prefers, or null
 * when it accepts none (no header accepts anything). Highest quality wins;
 * a tie goes to the more specific match (`text/html` over `text/*` over
 * `*` + `/*`), then to the earlier range in the header, then to the earlier
 * offer — as Express's `req.accepts` decides.
 */
export function preferredMediaType(header: string | undefined, offered: readonly string[]): string | null {
  const ranges = parseAccept(header ?? '*/*');
  let best: { type: string; q: number; s: number; order: number; i: number } | null = null;
  offered.forEach((offer, i) => {
    const [type, subtype] = offer.toLowerCase().split('/') as [string, string];
    let match: { q: number; s: number; order: number } | null = null;
    for (const r of ranges) {
      const s = (r.type === type ? 4 : r.type === '*' ? 0 : -1) + (r.subtype === subtype ? 2 : r.subtype === '*' ? 0 : -10);
      if (s < 0) continue;
      if (!match || s > match.s || (s === match.s && (r.q > match.q || (r.q === match.q && r.order < match.order)))) match = { q: r.q, s, order: r.order };
    }
    if (!match || match.q <= 0) return;
    const c = { type: offer, ...match, i };
    if (!best || c.q > best.q || (c.q === best.q && (c.s > best.s || (c.s === best.s && c.order < best.order)))) best = c;
  });
  return (best as { type: string } | null)?.type ?? null;
}

/**
 * Paths of the proxy: the part of `/api/{tokenId}/{path}` after the token id,
 * checked before anything is forwarded, and the path prefixes of proxy
 * credentials, matched whole segment by whole segment.
 */

/** A request target split into token id, path and query, or why it is refused. */
export type ParsedApiTarget = { ok: true; tokenId: string; path: string; query: string } | { ok: false; message: string };

/** Token ids are opaque but URL-safe; anything else cannot name a token. */
const TOKEN_ID = /^[A-Za-z0-9._~-]{1,128}$/;

/** `%2F`, `%5C` (slashes) and `%2E` (a dot, to spell `..`): the provider might decode them into segments the checks did not see. */
const ENCODED_SEPARATOR = /%(2f|5c|2e)/i;

/**
 * Splits `/api/{tokenId}/{path}?{query}` (the request target as received,
 * still percent-encoded). Refuses dot segments (`.`, `..`), encoded slashes
 * and dots, backslashes, empty segments and control characters: the path is
 * forwarded as is, so what is checked here is what the provider sees.
 */
export function parseApiTarget(target: string, mount = '/api/'): ParsedApiTarget {
  if (!target.startsWith(mount)) return { ok: false, message: `the path must start with ${mount}` };
  const q = target.indexOf('?');
  const pathPart = q < 0 ? target.slice(mount.length) : target.slice(mount.length, q);
  const query = q < 0 ? '' : target.slice(q);
  const slash = pathPart.indexOf('/');
  const tokenId = slash < 0 ? pathPart : pathPart.slice(0, slash);
  if (!TOKEN_ID.test(tokenId)) return { ok: false, message: 'the path must be /api/{tokenId}/{path}, with a token id' };
  const path = slash < 0 ? '/' : pathPart.slice(slash);
  const problem = pathProblem(path);
  if (problem) return { ok: false, message: problem };
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\x00-\x20\x7f#]/.test(query)) return { ok: false, message: 'the query string holds characters that must be percent-encoded' };
  return { ok: true, tokenId, path, query };
}

/** What WHATWG URL percent-encodes in a path (`"<>\`{}`) and in a query (`"<>'`), among the characters {@link parseApiTarget} lets through, and any non-ASCII one. */
const PATH_ENCODED = /["<>`{}]|[^\x21-\x7e]/g;
const QUERY_ENCODED = /["<>']|[^\x21-\x7e]/g;
const percentEncode = (c: string) => (c.charCodeAt(0) < 0x80 ? `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}` : encodeURIComponent(c));

/**
 * The request target sent to the provider for a checked path and query:
 * them as they came, percent-encoded the way `new URL(origin + path + query)`
 * would (so it need not be parsed again on top of the token's API origin).
 */
export function requestTarget(path: string, query: string): string {
  return path.replace(PATH_ENCODED, percentEncode) + query.replace(QUERY_ENCODED, percentEncode);
}

/** Why a path (`/crm/v8/Leads`) may not be forwarded or granted, or null when it may. */
export function pathProblem(path: string): string | null {
  if (!path.startsWith('/')) return 'a path must start with /';
  if (path.length > 2048) return 'the path is longer than 2048 characters';
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\x00-\x20\x7f\\#?]/.test(path)) return 'the path holds characters that must be percent-encoded';
  if (ENCODED_SEPARATOR.test(path)) return 'the path holds an encoded slash or dot';
  const segments = path.slice(1).split('/');
  for (const [i, s] of segments.entries()) {
    if (s === '.' || s === '..') return 'the path holds a dot segment (. or ..)';
    if (s === '' && i !== segments.length - 1) return 'the path holds an empty segment (//)';
  }
  return null;
}

/** A credential's path prefix as stored: checked, without a trailing slash (`/` stays `/`). */
export function normalizePrefix(prefix: string): string {
  const problem = pathProblem(prefix);
  if (problem) throw new Error(problem);
  return prefix.length > 1 ? prefix.replace(/\/+$/, '') : prefix;
}

/**
 * Whether `prefix` covers `path` segment by segment: `/crm/v8/Leads` covers
 * `/crm/v8/Leads` and `/crm/v8/Leads/123`, not `/crm/v8/LeadsX`; `/` covers
 * every path. Segments compare as sent (Zoho's paths are case-sensitive).
 */
export function prefixCovers(prefix: string, path: string): boolean {
  if (prefix === '/') return true;
  return path === prefix || path.startsWith(`${prefix}/`);
}

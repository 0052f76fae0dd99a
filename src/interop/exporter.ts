import type { Token } from '../stores/token';
import type { TokenStore } from '../stores/token-store';
import { writeZohoCsv, writeZohoCsvStream, type CsvWriteResult } from './zoho-csv';

/** Every token of a store, a page at a time (never all in memory at once). */
export async function* allTokens(store: TokenStore, pageSize = 1000): AsyncGenerator<Token> {
  let after: string | null = null;
  for (;;) {
    const page = await store.listTokens(pageSize, after);
    yield* page.nodes;
    if (!page.hasNextPage) return;
    after = page.endCursor;
  }
}

/**
 * Exports every token of `store` as a Zoho `FileStore` CSV in the 10-column
 * form (see `writeZohoCsv`): plaintext secrets, in a file of mode 0600, or
 * written to a stream (standard output) when `file` is one.
 */
export async function exportZohoCsv(
  store: TokenStore,
  file: string | NodeJS.WritableStream,
  options: { overwrite?: boolean; onProgress?: (done: number, total: number) => void } = {},
): Promise<CsvWriteResult> {
  const total = await store.countTokens();
  let last = 0;
  const onToken = (count: number) => {
    const now = Date.now();
    if (now - last >= 100 || count === total) {
      last = now;
      options.onProgress?.(count, total);
    }
  };
  if (typeof file !== 'string') return writeZohoCsvStream(file, allTokens(store), { onToken });
  return writeZohoCsv(file, allTokens(store), { overwrite: options.overwrite, onToken });
}

import fs from 'node:fs';
import { importTokens, ImportFailedError, ImportRejectedError, type ImportProgress, type ImportResult } from '../../interop/importer';
import { readZohoCsv } from '../../interop/zoho-csv';
import { describeMysqlUrl, readZohoDbTable } from '../../interop/zoho-db';
import { ZohoFormatError, type SourceRow } from '../../interop/zoho-format';
import { configFrom, describeStore, openConfiguredStore, policyOf } from '../configured-store';
import { CliError } from '../errors';
import { println, type CliIo } from '../io';
import { Progress } from '../progress';

export interface ImportCommandOptions {
  format: 'zoho-csv' | 'zoho-db';
  url?: string;
  table?: string;
  skipInvalid?: boolean;
  dryRun?: boolean;
  concurrency?: number;
}

/** Invalid rows listed in full; past this many, the rest are counted. */
const MAX_LISTED = 50;

/** The one-line summary: `imported N, updated M, unchanged K`. */
export function summary(result: ImportResult): string {
  const parts = [`imported ${result.imported}`, `updated ${result.updated}`, `unchanged ${result.unchanged}`];
  if (result.skipped > 0) parts.push(`skipped ${result.skipped} invalid`);
  return parts.join(', ');
}

function listInvalid(invalid: ImportRejectedError['invalid']): string[] {
  const lines = invalid.slice(0, MAX_LISTED).map((r) => `  ${r.where}: ${r.problems.join('; ')}`);
  if (invalid.length > MAX_LISTED) lines.push(`  … and ${invalid.length - MAX_LISTED} more`);
  return lines;
}

/**
 * `tokengate import --format zoho-csv FILE` and
 * `tokengate import --format zoho-db --url mysql://… [--table oauthtoken]`:
 * brings tokens kept by Zoho's SDKs into the configured store (see
 * `importTokens`: all rows or none, Zoho's ids kept, secrets encrypted,
 * idempotent). Prints one line: `imported N, updated M, unchanged K`.
 */
export async function importCommand(file: string | undefined, options: ImportCommandOptions, io: CliIo): Promise<void> {
  let source: AsyncIterable<SourceRow>;
  let from: string;
  if (options.format === 'zoho-csv') {
    if (!file) throw new CliError("import --format zoho-csv needs the FILE to read (Zoho's FileStore, e.g. sdk_tokens.txt)", 2);
    if (options.url) throw new CliError('--url is for --format zoho-db; a zoho-csv import reads FILE', 2);
    try {
      fs.accessSync(file, fs.constants.R_OK);
    } catch (err) {
      throw new CliError(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    source = readZohoCsv(file);
    from = file;
  } else {
    if (file) throw new CliError('import --format zoho-db reads the table at --url, not a FILE', 2);
    if (!options.url) throw new CliError('import --format zoho-db needs --url mysql://user:password@host:3306/zohooauth (or TOKENGATE_IMPORT_URL)', 2);
    const table = options.table ?? 'oauthtoken';
    source = readZohoDbTable(options.url, table);
    from = `table ${table} at ${describeMysqlUrl(options.url)}`;
  }

  const config = configFrom(io.env);
  const progress = new Progress(io.stderr);
  const onProgress = (p: ImportProgress) => progress.update(p.phase, p.done, p.total);
  // Read the whole input before opening the store: an unreadable source creates and changes nothing.
  const rows: SourceRow[] = [];
  try {
    for await (const row of source) {
      rows.push(row);
      onProgress({ phase: 'reading', done: rows.length, total: null });
    }
  } catch (err) {
    progress.end();
    if (err instanceof ZohoFormatError) throw new CliError(err.message);
    throw err;
  }
  const stores = await openConfiguredStore(config);
  try {
    const result = await importTokens(stores.tokens, rows, {
      skipInvalid: options.skipInvalid,
      dryRun: options.dryRun,
      concurrency: options.concurrency ?? (config.store === 'mysql' ? Math.min(16, config.mysqlPoolSize) : 8),
      policy: policyOf(config),
      onProgress,
    });
    progress.end();
    if (result.skipped > 0) {
      println(io.stderr, `tokengate: left out ${result.skipped} invalid row${result.skipped === 1 ? '' : 's'} of ${from}:`);
      for (const line of listInvalid(result.invalid)) println(io.stderr, line);
    }
    println(
      io.stdout,
      options.dryRun
        ? `dry run, nothing written to ${describeStore(config)}: would have ${summary(result)}`
        : `${summary(result)} (into ${describeStore(config)})`,
    );
  } catch (err) {
    progress.end();
    if (err instanceof ImportRejectedError) {
      throw new CliError(
        `${err.invalid.length} invalid row${err.invalid.length === 1 ? '' : 's'} in ${from}: nothing was imported (fix ${err.invalid.length === 1 ? 'it' : 'them'}, or use --skip-invalid to import the ${err.valid} valid row${err.valid === 1 ? '' : 's'})`,
        1,
        listInvalid(err.invalid),
      );
    }
    if (err instanceof ImportFailedError) throw new CliError(`import failed: ${err.message}`);
    if (err instanceof ZohoFormatError) throw new CliError(err.message);
    throw err;
  } finally {
    await stores.close();
  }
}

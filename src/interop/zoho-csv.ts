/**
 * Zoho's `FileStore` CSV (`sdk_tokens.txt`): reading every SDK's variant and
 * writing the 10-column form.
 *
 * Reading uses `csv-parse` rather than a hand-written splitter: the Python
 * SDK quotes fields that hold commas or quotes (RFC 4180, `""` for a quote)
 * and ends lines with CRLF, while the TypeScript and Node SDKs never quote and
 * end lines with LF. A parser with `relax_quotes` reads both: a quote inside
 * an unquoted field is kept as it is (as the TS/Node SDKs, which split on
 * commas, would read it), and a quoted field is unquoted. What no reader can
 * recover — a comma inside an unquoted value, which the TS/Node SDKs write
 * as is — shows as a row with too many fields, refused with its line number.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { parse, CsvError } from 'csv-parse';
import type { Token } from '../stores/token';
import { formatExpiryTime, mapColumns, ZOHO_COLUMNS, ZOHO_CSV_HEADER, ZohoFormatError, type SourceRow, type ZohoColumn, type ZohoValues } from './zoho-format';

/** What csv-parse's error codes mean, in words that quote nothing of the file. */
const CSV_PROBLEMS: Record<string, string> = {
  CSV_QUOTE_NOT_CLOSED: 'a quoted field is not closed',
  CSV_INVALID_CLOSING_QUOTE: 'a quoted field is followed by something other than a comma or a line end',
  CSV_INVALID_OPENING_QUOTE: 'a quote opens a field in an unexpected place',
  CSV_RECORD_INCONSISTENT_FIELDS_LENGTH: 'the row has a different number of fields',
  CSV_MAX_RECORD_SIZE: 'a row is too long',
  INVALID_OPENING_QUOTE: 'a quote opens a field in an unexpected place',
};

/**
 * Reads a Zoho `FileStore` CSV: a header (`user_mail` or `user_name`,
 * `redirect_url` or `redirect_uri`; 10, 9 or fewer columns), then one token a
 * line, LF or CRLF, quoted or not, with or without a trailing newline or a
 * BOM. Empty lines (and the `,` lines the TS SDK leaves when it widens a
 * 9-column file) are skipped. A row whose field count differs from the
 * header's comes with a `problem`.
 * @param input a file path or a readable stream of the file's bytes.
 * @throws ZohoFormatError when the file is empty, has no Zoho header, or cannot be parsed as CSV.
 */
export async function* readZohoCsv(input: string | Readable, name = typeof input === 'string' ? input : 'the input'): AsyncGenerator<SourceRow> {
  const source = typeof input === 'string' ? fs.createReadStream(input) : input;
  const parser = source.pipe(parse({ bom: true, relax_column_count: true, relax_quotes: true, skip_empty_lines: true, info: true }));
  source.on('error', (err: Error) => parser.destroy(err));
  let columns: Array<ZohoColumn | null> | null = null;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      const line = info.lines;
      if (columns === null) {
        columns = mapColumns(record, `line ${line} of ${name}`, true);
        continue;
      }
      if (record.every((f) => f === '')) continue;
      // An empty (or missing) field is null.
      const values: ZohoValues = {};
      columns.forEach((c, i) => {
        if (c !== null) values[c] = record[i] ? record[i]! : null;
      });
      const row: SourceRow = { where: `line ${line}`, values };
      if (record.length !== columns.length) {
        row.problem =
          record.length > columns.length
            ? `has ${record.length} fields, the header has ${columns.length} (a value holding an unquoted comma?)`
            : `has ${record.length} fields, the header has ${columns.length}`;
      }
      yield row;
    }
  } catch (err) {
    if (err instanceof CsvError) {
      const at = (err as CsvError & { lines?: number }).lines;
      throw new ZohoFormatError(`${at ? `line ${at} of ` : ''}${name}: ${CSV_PROBLEMS[err.code] ?? 'the file is not valid CSV'}`);
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ZohoFormatError(`${name} does not exist`);
    if (code === 'EACCES') throw new ZohoFormatError(`${name} cannot be read (permission denied)`);
    if (code === 'EISDIR') throw new ZohoFormatError(`${name} is a directory`);
    throw err;
  } finally {
    if (typeof input === 'string') (source as fs.ReadStream).destroy();
  }
  if (columns === null) throw new ZohoFormatError(`${name} is empty: a Zoho token file starts with a header line such as ${ZOHO_CSV_HEADER}`);
}

/**
 * One field, quoted only where no SDK could read it otherwise: when it holds
 * a comma or a line break, or starts with a quote (then as RFC 4180 and the
 * Python SDK's `csv` module write it, `""` for a quote). A quote inside a
 * value is left as it is: the TS and Node SDKs split on commas and keep it,
 * and Python's `csv` reader keeps a quote that does not open a field.
 */
export function csvField(value: string | null): string {
  if (value === null) return '';
  return /[,\r\n]/.test(value) || value.startsWith('"') ? `"${value.replace(/"/g, '""')}"` : value;
}

/** The row of a token in the 10-column form, and whether it needed quoting. */
export function zohoCsvLine(token: Token): { line: string; quoted: boolean } {
  const values: Record<(typeof ZOHO_COLUMNS)[number], string | null> = {
    id: token.id,
    user_name: token.userName,
    client_id: token.clientId,
    client_secret: token.clientSecret,
    refresh_token: token.refreshToken,
    access_token: token.accessToken,
    grant_token: token.grantToken,
    expiry_time: formatExpiryTime(token.expiresAt),
    redirect_url: token.redirectUrl,
    api_domain: token.apiDomain,
  };
  const fields = ZOHO_COLUMNS.map((c) => csvField(values[c]));
  return { line: fields.join(','), quoted: ZOHO_COLUMNS.some((c, i) => fields[i] !== (values[c] ?? '')) };
}

/** The result of {@link writeZohoCsv}. */
export interface CsvWriteResult {
  /** Tokens written. */
  count: number;
  /** Rows with a value that had to be quoted (a comma, a line break): the Python SDK reads them, the TS and Node SDKs cannot. */
  quotedRows: number;
}

/**
 * Writes tokens as a Zoho `FileStore` CSV in the 10-column form, as the
 * TypeScript SDK writes it: its header, LF line ends, no trailing newline,
 * no quoting unless a value needs it. The file holds plaintext secrets: it is
 * created with mode 0600 (a private temporary file beside it, renamed into
 * place once complete, so no reader sees half a file).
 * @param overwrite replace an existing file (otherwise refused).
 * @throws ZohoFormatError when the file exists and `overwrite` is false.
 */
export async function writeZohoCsv(
  file: string,
  tokens: AsyncIterable<Token>,
  options: { overwrite?: boolean; onToken?: (count: number) => void } = {},
): Promise<CsvWriteResult> {
  if (!options.overwrite && fs.existsSync(file)) throw new ZohoFormatError(`${file} exists: choose another file, or --force to replace it`);
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = fs.openSync(tmp, 'wx', 0o600);
  let count = 0;
  let quotedRows = 0;
  try {
    let buffer = ZOHO_CSV_HEADER;
    for await (const token of tokens) {
      const { line, quoted } = zohoCsvLine(token);
      buffer += '\n' + line;
      count += 1;
      if (quoted) quotedRows += 1;
      if (buffer.length > 1 << 20) {
        fs.writeSync(fd, buffer);
        buffer = '';
      }
      options.onToken?.(count);
    }
    fs.writeSync(fd, buffer);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, file);
    fs.chmodSync(file, 0o600);
  } catch (err) {
    try {
      fs.closeSync(fd);
    } catch {
      // already closed
    }
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  return { count, quotedRows };
}

/**
 * Writes tokens as a Zoho `FileStore` CSV (the same form as
 * {@link writeZohoCsv}) to a stream, e.g. standard output, waiting for the
 * stream to drain as it goes. Does not end the stream.
 */
export async function writeZohoCsvStream(
  out: NodeJS.WritableStream,
  tokens: AsyncIterable<Token>,
  options: { onToken?: (count: number) => void } = {},
): Promise<CsvWriteResult> {
  let count = 0;
  let quotedRows = 0;
  const write = async (chunk: string) => {
    if (!out.write(chunk))
      await new Promise<void>((resolve, reject) => {
        const done = (err?: Error) => {
          out.off('drain', done);
          out.off('error', done);
          if (err) reject(err);
          else resolve();
        };
        out.once('drain', done);
        out.once('error', done);
      });
  };
  let buffer = ZOHO_CSV_HEADER;
  for await (const token of tokens) {
    const { line, quoted } = zohoCsvLine(token);
    buffer += '\n' + line;
    count += 1;
    if (quoted) quotedRows += 1;
    if (buffer.length > 1 << 16) {
      await write(buffer);
      buffer = '';
    }
    options.onToken?.(count);
  }
  await write(buffer);
  return { count, quotedRows };
}

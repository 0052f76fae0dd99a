import { exportZohoCsv } from '../../interop/exporter';
import { ZohoFormatError } from '../../interop/zoho-format';
import { configFrom, describeStore, openConfiguredStore } from '../configured-store';
import { CliError } from '../errors';
import { println, type CliIo } from '../io';
import { Progress } from '../progress';

export interface ExportCommandOptions {
  format: 'zoho-csv';
  force?: boolean;
}

/**
 * `tokengate export --format zoho-csv FILE`: every token of the configured
 * store as a Zoho `FileStore` CSV (10-column form), with mode 0600, or on
 * standard output when FILE is `-`. It holds the secrets in plaintext, and
 * the summary says so.
 */
export async function exportCommand(file: string, options: ExportCommandOptions, io: CliIo): Promise<void> {
  const config = configFrom(io.env);
  const stores = await openConfiguredStore(config, { mustExist: true });
  const progress = new Progress(io.stderr);
  const toStdout = file === '-';
  try {
    const result = await exportZohoCsv(stores.tokens, toStdout ? io.stdout : file, {
      overwrite: options.force,
      onProgress: (done, total) => progress.update('exporting', done, total),
    });
    progress.end();
    if (result.quotedRows > 0) {
      println(
        io.stderr,
        `tokengate: warning: ${result.quotedRows} row${result.quotedRows === 1 ? ' holds' : 's hold'} a value with a comma or a line break, written quoted: Zoho's Python SDK reads them, its TypeScript and Node SDKs cannot`,
      );
    }
    const exported = `exported ${result.count} token${result.count === 1 ? '' : 's'} from ${describeStore(config)}`;
    // With `-` the CSV is standard output: the summary goes to stderr, so that a pipe gets the CSV alone.
    if (toStdout) println(io.stderr, `${exported} to standard output: it holds plaintext secrets — keep what it goes to private`);
    else println(io.stdout, `${exported} to ${file} (mode 0600): the file holds plaintext secrets — keep it private and delete it when done`);
  } catch (err) {
    progress.end();
    if (err instanceof ZohoFormatError) throw new CliError(err.message);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR' || code === 'ENOTDIR') throw new CliError(`cannot write ${file} (${code})`);
    throw err;
  } finally {
    await stores.close();
  }
}

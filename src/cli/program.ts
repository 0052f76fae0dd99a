import { Command, InvalidArgumentError, Option } from 'commander';
import { keysRotateCommand, keysStatusCommand } from './commands/keys';
import type { CliIo } from './io';

const positiveInt = (name: string) => (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 256) throw new InvalidArgumentError(`${name} must be a whole number from 1 to 256`);
  return Number(v);
};

/**
 * commander's usage errors quote what was typed (`unknown option
 * '--api-key=tg_…'`): the value of a `--name=value` goes, it may be a key.
 */
export function withoutOptionValues(text: string): string {
  return text.replace(/'(--?[A-Za-z][\w-]*)=[^']*'/g, "'$1=…'");
}

/**
 * The `tokengate` command line. Commands that touch the store read the same
 * environment as the gateway (`TOKENGATE_STORE`, `TOKENGATE_DATA_DIR`,
 * `TOKENGATE_MYSQL_URL`, `TOKENGATE_ENCRYPTION_KEY`, …) and so use the same
 * store and key; `token` talks to a running gateway over its API. Each
 * command's module is loaded when it runs, so `tokengate token` (called before
 * every request of a shell script) loads neither the server nor the store.
 */
export function buildProgram(io: CliIo, version: string): Command {
  const program = new Command('tokengate')
    .description('A self-hosted OAuth token gateway for Zoho CRM')
    .version(version, '-V, --version')
    .showHelpAfterError('(run tokengate --help for usage)')
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(withoutOptionValues(s)) })
    .exitOverride();

  program
    .command('serve')
    .description('run the gateway (what npm start runs), configured by the TOKENGATE_* environment')
    .action(async () => (await import('./commands/serve')).serveCommand(io));

  program
    .command('migrate')
    .description("create or upgrade the configured store's tables (the gateway also does it at every start)")
    .action(async () => (await import('./commands/migrate')).migrateCommand(io));

  program
    .command('import')
    .description("import tokens kept by Zoho's SDKs: a FileStore CSV or a DBStore table (all rows or none; Zoho's ids kept; secrets encrypted)")
    .argument('[file]', 'the FileStore CSV (--format zoho-csv), e.g. sdk_tokens.txt')
    .addOption(new Option('--format <format>', 'what to read').choices(['zoho-csv', 'zoho-db']).makeOptionMandatory())
    .addOption(new Option('--url <url>', 'the DBStore database, mysql://user:password@host:3306/zohooauth (--format zoho-db)').env('TOKENGATE_IMPORT_URL'))
    .option('--table <name>', 'the DBStore table (--format zoho-db)', 'oauthtoken')
    .option('--skip-invalid', 'import the valid rows and list the invalid ones, instead of importing nothing')
    .option('--dry-run', 'check and compare only; write nothing')
    .option('--concurrency <n>', 'store writes in flight at once', positiveInt('--concurrency'))
    .action(async (file: string | undefined, options) => (await import('./commands/import')).importCommand(file, options, io));

  program
    .command('export')
    .description('export every token as a Zoho FileStore CSV (10 columns, mode 0600; it holds plaintext secrets)')
    .argument('<file>', 'the file to write, or - for standard output')
    .addOption(new Option('--format <format>', 'what to write').choices(['zoho-csv']).makeOptionMandatory())
    .option('--force', 'replace the file if it exists')
    .action(async (file: string, options) => (await import('./commands/export')).exportCommand(file, options, io));

  program
    .command('token')
    .description('print a valid access token of a token (refreshed first if needed), for shell scripts; needs a running gateway')
    .option('--id <id>', 'the token id')
    .option('--user <userName>', 'the token of this user name (instead of --id)')
    .addOption(new Option('--url <url>', 'the gateway').env('TOKENGATE_URL').default('http://127.0.0.1:4000'))
    .option('--api-key-file <file>', 'a file holding the API key (default: the TOKENGATE_API_KEY variable)')
    .option('--force', 'refresh even when the access token is still valid')
    .action(async (options) => (await import('./commands/token')).tokenCommand(options, io));

  program
    .command('connect')
    .description(
      "start connecting an account through an OAuth client (startConnect) and print the provider's consent URL to open in a browser; needs a running gateway and an operator key",
    )
    .requiredOption('--client <name>', 'the OAuth client, by name (or id), as saveClient registered it')
    .option('--user <userName>', 'the user the token is saved under (the token of that user name is updated)')
    .option('--token-id <id>', 'reconnect this token in place (e.g. a FAILED one) instead')
    .option('--scope <scopes>', "comma-separated scopes (default: the client's)")
    .option(
      '--return-to <url>',
      'where the browser goes back to with the outcome (an origin of TOKENGATE_CONNECT_RETURN_ORIGINS); default: a page of the gateway',
    )
    .option('--replace-oldest', "at the provider's refresh-token limit, replace the user's oldest refresh token")
    .addOption(new Option('--url <url>', 'the gateway').env('TOKENGATE_URL').default('http://127.0.0.1:4000'))
    .option('--api-key-file <file>', 'a file holding the API key (default: the TOKENGATE_API_KEY variable)')
    .action(async (options) => (await import('./commands/connect')).connectCommand(options, io));

  const keys = program.command('keys').description('the encryption keys: which tokens each holds, and rotation to the newest');
  keys
    .command('status')
    .description('list the configured encryption keys (TOKENGATE_ENCRYPTION_KEY, current first) with their ids and how many tokens each holds')
    .action(() => keysStatusCommand(io));
  keys
    .command('rotate')
    .description('re-encrypt every stored secret under the current key (the first listed), in batches, while gateways keep serving; resumable')
    .option('--batch-size <n>', 'tokens per batch (one transaction each)', intIn('--batch-size', 1, 10_000), 100)
    .option('--pause-ms <ms>', 'pause between batches, to spare a busy database', intIn('--pause-ms', 0, 60_000), 0)
    .action((options) => keysRotateCommand(options, io));

  return program;
}

const intIn = (name: string, min: number, max: number) => (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}`);
  return Number(v);
};

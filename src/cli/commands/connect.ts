import { TokengateError } from '@tokengate/client';
import { CliError } from '../errors';
import type { CliIo } from '../io';
import { cliClient } from './token';

export interface ConnectCommandOptions {
  client: string;
  user?: string;
  tokenId?: string;
  scope?: string;
  returnTo?: string;
  replaceOldest?: boolean;
  url?: string;
  apiKeyFile?: string;
}

/**
 * `tokengate connect --client crm --user ana@example.com`: starts connecting
 * an account on a running gateway (`startConnect`) and prints the URL of the
 * provider's consent screen on stdout, and nothing else, for the person to
 * open in a browser; when and how the connect ends goes to stderr. Without
 * `--return-to` the gateway's callback shows a small page saying what
 * happened. `--token-id` reconnects a token (a `FAILED` one) in place.
 */
export async function connectCommand(options: ConnectCommandOptions, io: CliIo): Promise<void> {
  if (options.user === undefined && options.tokenId === undefined)
    throw new CliError('give the account as --user <userName>, or --token-id <id> to reconnect a token', 2);
  const client = cliClient(options, io, 'none');
  const scopes =
    options.scope === undefined
      ? null
      : options.scope
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s.length > 0);
  try {
    const started = await client.startConnect({
      client: options.client,
      userName: options.user ?? null,
      tokenId: options.tokenId ?? null,
      scopes,
      returnTo: options.returnTo ?? null,
      replaceOldest: options.replaceOldest === true,
    });
    io.stdout.write(started.authorizationUrl + '\n');
    io.stderr.write(
      `open the URL above in a browser and consent, before ${started.expiresAt.toISOString()}; ` +
        (options.returnTo
          ? `the browser then comes back to ${options.returnTo} with the outcome\n`
          : 'the gateway then shows whether the account was connected\n'),
    );
  } catch (err) {
    if (err instanceof TokengateError) throw new CliError(`${err.code}: ${err.message}`);
    throw err;
  }
}

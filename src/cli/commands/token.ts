import fs from 'node:fs';
import { TokengateClient, TokengateError } from '@tokengate/client';
import { CliError } from '../errors';
import type { CliIo } from '../io';

export interface TokenCommandOptions {
  id?: string;
  user?: string;
  url?: string;
  apiKeyFile?: string;
  force?: boolean;
}

/** The default gateway URL when neither --url nor TOKENGATE_URL is given. */
export const DEFAULT_GATEWAY_URL = 'http://127.0.0.1:4000';

/** The API key: --api-key-file, else TOKENGATE_API_KEY, else TOKENGATE_API_KEY_FILE. Never from the command line itself (it would show in `ps`). */
export function apiKeyFrom(options: { apiKeyFile?: string }, env: NodeJS.ProcessEnv): string {
  const file = options.apiKeyFile ?? (env.TOKENGATE_API_KEY ? undefined : env.TOKENGATE_API_KEY_FILE);
  if (file) {
    try {
      return fs.readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw new CliError(`cannot read the API key file ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, 2);
    }
  }
  const key = env.TOKENGATE_API_KEY?.trim();
  if (!key) throw new CliError('no API key: set TOKENGATE_API_KEY (an operator or admin key), or give --api-key-file', 2);
  return key;
}

/** The gateway's client for a CLI command: `--url` (or `TOKENGATE_URL`) and the API key; a bad value is a usage error (exit 2). */
export function cliClient(options: { url?: string; apiKeyFile?: string }, io: CliIo, secrets: 'access' | 'none'): TokengateClient {
  const url = options.url ?? io.env.TOKENGATE_URL ?? DEFAULT_GATEWAY_URL;
  try {
    return new TokengateClient({ url, apiKey: apiKeyFrom(options, io.env), secrets });
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(
      (err as Error).message
        .replace(/^TokengateClient: /, '')
        .replace(/^url/, '--url (or TOKENGATE_URL)')
        .replace(/^apiKey/, 'the API key'),
      2,
    );
  }
}

/**
 * `tokengate token --id ID` (or `--user USERNAME`): prints a valid access token of token ID, and
 * nothing else, on stdout — refreshed by the gateway first when it has
 * expired or is about to (`refresh(id, force: false)`; `--force` always
 * refreshes). For shell scripts:
 * `curl -H "Authorization: Zoho-oauthtoken $(tokengate token --id 42)" …`
 */
export async function tokenCommand(options: TokenCommandOptions, io: CliIo): Promise<void> {
  if ((options.id === undefined) === (options.user === undefined)) throw new CliError('give the token as --id <id> or --user <userName> (one of them)', 2);
  const client = cliClient(options, io, 'access');
  try {
    // By user name: find its id first (Zoho's lookup by user name), then as by id.
    const id = options.id ?? (await client.getToken({ userName: options.user! }))?.id;
    if (id === undefined) throw new CliError(`NOT_FOUND: no token has user name "${options.user}"`);
    const token = options.force ? await client.refresh(id, { force: true }) : null;
    const accessToken = token ? token.accessToken : await client.getAccessToken(id);
    if (!accessToken) throw new CliError(`token ${id} has no access token`);
    io.stdout.write(accessToken + '\n');
  } catch (err) {
    if (err instanceof TokengateError) {
      throw new CliError(`${err.code}${err.oauthError ? ` (${err.oauthError})` : ''}: ${err.message}`);
    }
    throw err;
  }
}

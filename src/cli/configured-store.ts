import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, type Config } from '../config';
import { loadEncryptionKeys } from '../crypto/key-file';
import { Keyring } from '../crypto/keyring';
import { ConfigError, TokenStoreError } from '../errors';
import { AccountsUrlPolicy } from '../oauth/accounts-url-policy';
import type { Stores } from '../stores/stores';
import { CliError } from './errors';

/** The configuration of the environment, as the gateway reads it; a bad value is a usage error (exit 2). */
export function configFrom(env: NodeJS.ProcessEnv): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(`invalid configuration: ${err.message}`, 2);
    throw err;
  }
}

/** Where the configured store is, for messages (never a password). */
export function describeStore(config: Config): string {
  switch (config.store) {
    case 'sqlite':
      return `the SQLite store ${config.sqlitePath}`;
    case 'memory':
      return 'the memory store';
    case 'mysql': {
      try {
        const u = new URL(config.mysqlUrl!);
        return `the MySQL store ${u.hostname}:${u.port || 3306}${u.pathname}, table ${config.mysqlTable}`;
      } catch {
        return 'the MySQL store';
      }
    }
  }
}

/** The keyring of the configured (or generated) encryption key, as the gateway loads it. */
export function keyringOf(config: Config): Keyring {
  return new Keyring(loadEncryptionKeys(config.encryptionKeys, config.dataDir).keys);
}

/** The accounts URL policy of the configuration, as the gateway builds it. */
export function policyOf(config: Config): AccountsUrlPolicy {
  return new AccountsUrlPolicy({ defaultAccountsUrl: config.accountsUrl, allowed: config.allowedAccountsUrls });
}

/**
 * Opens the configured store the way the gateway does (same key, same
 * migrations, same key check). The memory store lives only inside a gateway
 * process, so commands that keep tokens refuse it.
 * @param mustExist refuse to create a SQLite database that is not there yet (export).
 */
export async function openConfiguredStore(config: Config, options: { mustExist?: boolean } = {}): Promise<Stores> {
  if (config.store === 'memory') {
    throw new CliError(
      'TOKENGATE_STORE=memory keeps tokens inside one gateway process only: set TOKENGATE_STORE=sqlite or mysql (with the same settings as the gateway)',
      2,
    );
  }
  if (options.mustExist && config.store === 'sqlite' && !fs.existsSync(config.sqlitePath)) {
    throw new CliError(`there is no SQLite store at ${config.sqlitePath} (set TOKENGATE_DATA_DIR or TOKENGATE_SQLITE_PATH as for the gateway)`);
  }
  let keyring: Keyring;
  try {
    keyring = keyringOf(config);
  } catch (err) {
    throw new CliError(`cannot load the encryption key: ${(err as Error).message}`);
  }
  // Loaded here, not at the top: `tokengate token` and `--help` need no store.
  const { openStore, storeOptionsOf } = await import('../stores/open-store');
  try {
    return await openStore(storeOptionsOf(config), keyring);
  } catch (err) {
    // An unreachable database: its one line already names the database and the cause.
    if (err instanceof TokenStoreError && err.kind === 'UNAVAILABLE') throw new CliError(err.detail);
    const detail = err instanceof TokenStoreError ? err.detail : 'unexpected error';
    throw new CliError(`cannot open ${describeStore(config)}: ${detail}`);
  }
}

/** Makes sure the directory of a SQLite file exists (as `openStore` does). */
export function ensureSqliteDir(config: Config): void {
  if (config.store === 'sqlite') fs.mkdirSync(path.dirname(config.sqlitePath), { recursive: true, mode: 0o700 });
}

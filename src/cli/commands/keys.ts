import { keyStatus, rotateKeys, type RotateProgress } from '../../keys/rotate';
import { configFrom, describeStore, keyringOf, openConfiguredStore } from '../configured-store';
import { CliError } from '../errors';
import { println, type CliIo } from '../io';

export interface KeysRotateOptions {
  batchSize?: number;
  pauseMs?: number;
}

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

/**
 * `tokengate keys status`: the configured encryption keys (current first)
 * with their ids and how many tokens each holds.
 */
export async function keysStatusCommand(io: CliIo): Promise<void> {
  const config = configFrom(io.env);
  const stores = await openConfiguredStore(config, { mustExist: true });
  try {
    const keyring = keyringOf(config);
    for (const k of await keyStatus(stores.keys, keyring)) {
      const role = k.current
        ? 'current: new writes use it'
        : k.tokens === 0
          ? 'unused: it can be removed'
          : 'still needed to read these tokens: run tokengate keys rotate';
      println(io.stdout, `key ${k.position} ${k.keyId}: ${plural(k.tokens, 'token')} (${role})`);
    }
  } finally {
    await stores.close();
  }
}

/**
 * `tokengate keys rotate`: re-encrypts every stored secret under the current
 * key (the first of TOKENGATE_ENCRYPTION_KEY), in batches, while gateways
 * keep serving (`rotateKeys`). Progress on stderr (at most one line a
 * second); the result on stdout. Exits 1 when tokens remain under an old key.
 */
export async function keysRotateCommand(options: KeysRotateOptions, io: CliIo): Promise<void> {
  const config = configFrom(io.env);
  const stores = await openConfiguredStore(config, { mustExist: true });
  const keyring = keyringOf(config);
  const stop = new AbortController();
  const onSignal = () => {
    println(io.stderr, 'tokengate: stopping after this batch (run keys rotate again to finish)');
    stop.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let lastLine = 0;
  const report = (p: RotateProgress) => {
    const now = Date.now();
    if (now - lastLine < 1000) return;
    lastLine = now;
    const pct = p.total === 0 ? 100 : Math.min(100, Math.floor((p.reencrypted / p.total) * 100));
    println(
      io.stderr,
      `re-encrypting: ${p.reencrypted}/${p.total} tokens (${pct}%)${p.skipped ? `, ${p.skipped} skipped (written meanwhile)` : ''}${p.failed ? `, ${p.failed} failed` : ''}`,
    );
  };
  try {
    if (keyring.keyIds.length > 1)
      println(io.stderr, `rotating ${describeStore(config)} to key ${keyring.currentKeyId} (the first of ${keyring.keyIds.length} configured keys)`);
    const result = await rotateKeys(stores, keyring, {
      batchSize: options.batchSize,
      pauseMs: options.pauseMs,
      signal: stop.signal,
      onProgress: (p) => report(p),
    });
    if (result.total > 0) {
      const left = result.remaining.reduce((n, u) => n + u.tokens, 0);
      const others = Math.max(0, result.total - result.reencrypted - left);
      println(
        io.stderr,
        `re-encrypting: ${result.aborted ? 'stopped' : 'done'}, ${result.total - left}/${result.total} tokens under the current key ` +
          `(${result.reencrypted} by this run${others ? `, ${others} by gateway writes or deletions meanwhile` : ''})`,
      );
    }
    if (result.clientsReencrypted > 0)
      println(io.stderr, `re-encrypted the secrets of ${plural(result.clientsReencrypted, 'OAuth client')} under the current key`);
    if (result.failedIds.length > 0) {
      throw new CliError(
        `${plural(result.failedIds.length, 'token')} did not decrypt and were left as they are`,
        1,
        result.failedIds.slice(0, 50).map((id) => `  token ${id}`),
      );
    }
    if (result.remaining.length > 0) {
      const left = result.remaining.map((u) => `${plural(u.tokens, 'token')} under key ${u.keyId}`).join(', ');
      throw new CliError(
        result.aborted
          ? `stopped: ${left} left; run tokengate keys rotate again to finish`
          : `${left} left after ${plural(result.pass, 'pass')}: is a gateway still writing with an old key first? Make TOKENGATE_ENCRYPTION_KEY the same, newest first, on every gateway, then run tokengate keys rotate again`,
      );
    }
    const unused = keyring.keyIds.slice(1);
    println(
      io.stdout,
      `re-encrypted ${plural(result.reencrypted, 'token')}: every token is under key ${result.currentKeyId}` +
        (unused.length > 0
          ? `; key${unused.length === 1 ? '' : 's'} ${unused.join(', ')} ${unused.length === 1 ? 'is' : 'are'} no longer used and can be removed from TOKENGATE_ENCRYPTION_KEY`
          : ''),
    );
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stores.close();
  }
}

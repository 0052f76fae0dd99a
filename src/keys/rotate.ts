import { setTimeout as sleep } from 'node:timers/promises';
import { systemActor, type AuditActor } from '../audit/audit';
import type { Keyring } from '../crypto/keyring';
import type { KeyRotation, KeyUsage } from '../stores/key-rotation';
import type { Stores } from '../stores/stores';

/**
 * Key rotation: re-encrypts every stored secret under the current (first)
 * encryption key, so that the older keys can be removed.
 *
 * Safe while gateways serve, in this process or others, on the same store:
 * - rows are re-encrypted in batches, each row a compare-and-swap on its
 *   version: a row written meanwhile is skipped, as its writer encrypted it
 *   under its own current key (which is the new key once every gateway lists
 *   it first — see the README's runbook);
 * - a token's version and `updatedAt` do not change, so no refresh or save in
 *   flight loses a compare-and-swap to the rotation;
 * - lookups keep working throughout: gateways hash a looked-up secret under
 *   every listed key, so a row matches before and after its re-encryption.
 * Resumable: a re-encrypted row is done for good, and a new run starts with
 * the rows still under another key.
 */

export interface RotateOptions {
  /** Rows per batch (one transaction each; default 100). */
  batchSize?: number;
  /** A pause between batches, to spare a busy database (default 0). */
  pauseMs?: number;
  /** Walks over the table at most: rows skipped by concurrent writes are looked at again (default 5). */
  maxPasses?: number;
  /** Called after every batch. */
  onProgress?: (progress: RotateProgress) => void;
  /** Stops after the current batch (what is done stays done). */
  signal?: AbortSignal;
  /** Who rotates, for the audit trail (default `system:cli`). */
  actor?: AuditActor;
}

export interface RotateProgress {
  pass: number;
  /** Rows under another key when the rotation started. */
  total: number;
  /** Rows re-encrypted so far. */
  reencrypted: number;
  /** Rows skipped because a concurrent write changed them first. */
  skipped: number;
  /** Rows whose secrets did not decrypt. */
  failed: number;
}

export interface RotateResult extends RotateProgress {
  currentKeyId: string;
  /** Ids of the rows that did not decrypt (no secret: ids only). */
  failedIds: string[];
  /** Key ids that still hold tokens, other than the current one; empty when the old keys can be removed. */
  remaining: KeyUsage[];
  /** The run was stopped by `signal`. */
  aborted: boolean;
  /** OAuth clients (the connect flow) whose secret was re-encrypted. */
  clientsReencrypted: number;
}

/** Re-encrypts every token not under `keyring`'s current key. See the module comment. */
export async function rotateKeys(
  stores: Pick<Stores, 'keys' | 'audit'> & Partial<Pick<Stores, 'clients'>>,
  keyring: Keyring,
  options: RotateOptions = {},
): Promise<RotateResult> {
  const current = keyring.currentKeyId;
  const batchSize = options.batchSize ?? 100;
  const maxPasses = options.maxPasses ?? 5;
  const others = (usage: KeyUsage[]) => usage.filter((u) => u.keyId !== current && u.tokens > 0);
  const total = others(await stores.keys.keyUsage()).reduce((n, u) => n + u.tokens, 0);
  const progress: RotateProgress = { pass: 0, total, reencrypted: 0, skipped: 0, failed: 0 };
  const failedIds = new Set<string>();
  let remaining: KeyUsage[] = total > 0 ? others(await stores.keys.keyUsage()) : [];
  let aborted = false;

  while (remaining.length > 0 && progress.pass < maxPasses && !aborted) {
    progress.pass++;
    let after: string | null = null;
    let doneInPass = 0;
    for (;;) {
      if (options.signal?.aborted) {
        aborted = true;
        break;
      }
      const batch = await stores.keys.reencryptBatch(batchSize, after);
      if (batch.lastId === null) break;
      after = batch.lastId;
      progress.reencrypted += batch.reencrypted;
      progress.skipped += batch.skipped;
      doneInPass += batch.reencrypted;
      for (const id of batch.failed) failedIds.add(id);
      progress.failed = failedIds.size;
      options.onProgress?.({ ...progress });
      if (options.pauseMs) await sleep(options.pauseMs);
    }
    remaining = others(await stores.keys.keyUsage());
    // Nothing moved in a whole pass: what is left does not decrypt, or keeps being written under an old key.
    if (doneInPass === 0) break;
  }

  // The OAuth clients' secrets: a handful of rows, re-encrypted in one transaction.
  const clientsReencrypted = aborted || !stores.clients ? 0 : await stores.clients.reencryptClients();
  const result: RotateResult = { ...progress, currentKeyId: current, failedIds: [...failedIds], remaining, aborted, clientsReencrypted };
  if (total > 0) {
    const left = remaining.reduce((n, u) => n + u.tokens, 0);
    await stores.audit
      .appendAudit([
        {
          action: 'KEY_ROTATION',
          actor: options.actor ?? systemActor('cli'),
          outcome: left === 0 ? 'OK' : 'ERROR',
          detail: `re-encrypted ${progress.reencrypted} tokens under key ${current}; ${left} left under other keys${aborted ? ' (stopped)' : ''}`,
        },
      ])
      .catch(() => undefined);
  }
  return result;
}

/** One configured key and the tokens under it. */
export interface KeyStatus {
  keyId: string;
  /** Position in TOKENGATE_ENCRYPTION_KEY (1 = current: new writes use it). */
  position: number;
  current: boolean;
  tokens: number;
}

/** The configured keys, current first, with how many tokens each holds (a key with 0 can be removed, unless it is the current one). */
export async function keyStatus(keys: KeyRotation, keyring: Keyring): Promise<KeyStatus[]> {
  const usage = new Map((await keys.keyUsage()).map((u) => [u.keyId, u.tokens]));
  return keyring.keyIds.map((keyId, i) => ({ keyId, position: i + 1, current: i === 0, tokens: usage.get(keyId) ?? 0 }));
}

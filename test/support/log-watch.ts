import fs from 'node:fs';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';

/** How many times `text` occurs in `file` now (0 while it does not exist). */
export function occurrences(file: string, text: string): number {
  try {
    return fs.readFileSync(file, 'utf8').split(text).length - 1;
  } catch {
    return 0;
  }
}

/**
 * Resolves once `file` holds more than `before` occurrences of `text`: a
 * server's log line, read again each time a file of its folder changes.
 * Rejects when `gone` settles first (the server exited), or after `timeoutMs`.
 */
export function untilLogged(
  file: string,
  text: string,
  before: number,
  options: { timeoutMs: number; gone?: Promise<unknown>; what: () => string },
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      watcher.close();
      clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    };
    const check = () => {
      if (occurrences(file, text) > before) finish();
    };
    const watcher = fs.watch(path.dirname(file), check);
    const timer = setTimeout(() => finish(new Error(`no "${text}" in ${file} after ${options.timeoutMs} ms:\n${options.what()}`)), options.timeoutMs);
    void options.gone?.then(() => {
      check(); // its last words may be the line
      finish(new Error(`the server exited before logging "${text}":\n${options.what()}`));
    });
    check();
  });
}

/**
 * Asks `check` again as soon as it answers, each turn of the event loop, until it
 * holds; throws `failure()` after `timeoutMs`. For a condition whose every
 * check is a round trip to a running server (it paces itself), never a sleep.
 */
export async function untilTrue(check: () => Promise<boolean>, timeoutMs: number, failure: () => Error): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw failure();
    await nextTurn();
  }
}

/**
 * A condition over a test's own records (a load's answers, probes), awaited
 * rather than polled: whatever adds to the records calls `changed()`.
 */
export class Changes {
  private readonly watchers = new Set<() => void>();

  changed(): void {
    for (const w of [...this.watchers]) w();
  }

  /**
   * Resolves once `check()` holds, asked now and at each change. Rejects when
   * `failed` rejects first (a load that throws), or after `timeoutMs` when given.
   */
  until(check: () => boolean, options: { failed?: Promise<unknown>; timeoutMs?: number; what?: string } = {}): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (err?: unknown) => {
        this.watchers.delete(watch);
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      const watch = () => {
        if (check()) finish();
      };
      this.watchers.add(watch);
      if (options.timeoutMs !== undefined)
        timer = setTimeout(() => finish(new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what ?? 'a condition'}`)), options.timeoutMs);
      options.failed?.then(undefined, finish);
      watch();
    });
  }
}

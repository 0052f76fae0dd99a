/**
 * Groups work by turn of the event loop. The first job of a turn runs at
 * once; the jobs that come after it in the same turn wait for the turn's end
 * (`setImmediate`) and then run one after the other.
 *
 * Why: under load one turn takes in many requests, and a database call made
 * between the handling of one request and the next finds the CPU caches full
 * of everything else — a SQLite lookup cost ~30 µs of CPU there against ~9 µs
 * back to back, and request handling after it slowed the same way. Grouped,
 * the turn runs each kind of work for all its requests in a row. The first
 * job of a turn does not wait, so a lone call (an idle gateway, or the
 * refresh that holds a token's lease while a burst of callers is parsed)
 * is never delayed by the batching.
 */
export class TurnBatcher {
  /** The jobs waiting for the end of this turn; null when no job has run in this turn. */
  private waiting: Array<() => void> | null = null;

  /** Runs `job` now or at the end of this turn. A job settles its own promise and never throws. */
  run(job: () => void): void {
    if (this.waiting !== null) {
      this.waiting.push(job);
      return;
    }
    this.waiting = [];
    setImmediate(() => this.flush());
    job();
  }

  private flush(): void {
    const jobs = this.waiting ?? [];
    this.waiting = null;
    for (const job of jobs) job();
  }
}

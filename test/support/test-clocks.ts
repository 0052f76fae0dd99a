import type { Clock } from '../../src/clock';

interface Sleeper {
  at: number;
  resolve: () => void;
  reject: (err: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
  timer?: NodeJS.Timeout;
}

const abortError = () => new DOMException('The operation was aborted', 'AbortError');

/** What both test clocks share: the sleeps asked for, and a signal for each. */
abstract class RecordingClock implements Clock {
  /** Every sleep asked for, in ms, in order. */
  readonly sleeps: number[] = [];
  protected sleepers: Sleeper[] = [];
  private waiters: Array<{ n: number; resolve: () => void }> = [];

  abstract now(): number;

  /** Resolves once `n` sleeps in all have been asked for (default: one more than so far). */
  sleeping(n = this.sleeps.length + 1): Promise<void> {
    if (this.sleeps.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  /** Sleeps not yet over. */
  pending(): number {
    return this.sleepers.length;
  }

  sleep(ms: number, options: { signal?: AbortSignal; ref?: boolean } = {}): Promise<void> {
    this.sleeps.push(ms);
    const { signal } = options;
    const asleep = new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(abortError());
      const s: Sleeper = { at: this.now() + Math.max(0, ms), resolve, reject, ...(signal ? { signal } : {}) };
      if (signal) {
        s.onAbort = () => this.settle(s, abortError());
        signal.addEventListener('abort', s.onAbort, { once: true });
      }
      this.sleepers.push(s);
      this.started(s, ms, options.ref ?? true);
    });
    for (const w of this.waiters.filter((x) => this.sleeps.length >= x.n)) {
      this.waiters.splice(this.waiters.indexOf(w), 1);
      w.resolve();
    }
    return asleep;
  }

  /** Called for a new sleeper (the real-time clock arms a timer). */
  protected started(_s: Sleeper, _ms: number, _ref: boolean): void {}

  /** Ends the sleeps that are over at `now()`, soonest first. */
  protected wake(): void {
    const due = this.sleepers.filter((s) => s.at <= this.now()).sort((a, b) => a.at - b.at);
    for (const s of due) this.settle(s);
  }

  protected settle(s: Sleeper, err?: unknown): void {
    const i = this.sleepers.indexOf(s);
    if (i < 0) return;
    this.sleepers.splice(i, 1);
    if (s.timer) clearTimeout(s.timer);
    if (s.onAbort) s.signal?.removeEventListener('abort', s.onAbort);
    if (err) s.reject(err);
    else s.resolve();
  }
}

/**
 * A clock that stands still until the test moves it: `now()` changes only by
 * `advance`, and a sleep ends only when `advance` passes its end. `sleeping()`
 * resolves when the code under test starts to wait.
 */
export class ManualClock extends RecordingClock {
  private t: number;

  constructor(start = Date.now()) {
    super();
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  /** Moves time on by `ms`, ending the sleeps that are over by then. */
  advance(ms: number): void {
    this.t += ms;
    this.wake();
  }
}

/**
 * The real clock, which a test can move ahead: `now()` is the wall clock plus
 * every `advance` so far, and a sleep ends at its end by either (its real
 * timer, or an `advance` past it). For code the test otherwise lets run.
 */
export class AdvancingClock extends RecordingClock {
  private offset = 0;

  now(): number {
    return Date.now() + this.offset;
  }

  /** Moves time on by `ms` at once, ending the sleeps that are over by then. */
  advance(ms: number): void {
    this.offset += ms;
    this.wake();
  }

  protected override started(s: Sleeper, ms: number, ref: boolean): void {
    s.timer = setTimeout(() => this.settle(s), Math.max(0, ms));
    if (!ref) s.timer.unref();
  }
}

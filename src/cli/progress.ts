import type { CliIo } from './io';

/**
 * A progress line on a terminal (`\r`-rewritten on stderr), for long runs
 * only: nothing at all when stderr is not a TTY (a pipe, a file, CI), when
 * the work is small, or before it has run for half a second. Never part of
 * stdout, which keeps the one-line result.
 */
export class Progress {
  private readonly enabled: boolean;
  private shown = false;
  private readonly startedAt = Date.now();
  private lastDraw = 0;

  constructor(
    private readonly stream: CliIo['stderr'],
    /** Below this many items (when known), nothing is shown. */
    private readonly minItems = 1000,
  ) {
    this.enabled = Boolean(stream.isTTY);
  }

  /** Shows `label done/total (pct)` or `label done` when the total is unknown. */
  update(label: string, done: number, total: number | null): void {
    if (!this.enabled) return;
    if (total !== null && total < this.minItems) return;
    if (total === null && done < this.minItems) return;
    const now = Date.now();
    if (now - this.startedAt < 500 || (now - this.lastDraw < 100 && done !== total)) return;
    this.lastDraw = now;
    const count = total === null ? `${fmt(done)}` : `${fmt(done)}/${fmt(total)} (${total === 0 ? 100 : Math.floor((done / total) * 100)}%)`;
    const width = Math.max(20, (this.stream.columns ?? 80) - 1);
    this.stream.write(`\r\x1b[K${`${label} ${count}`.slice(0, width)}`);
    this.shown = true;
  }

  /** Clears the line, so that what follows starts on a clean line. */
  end(): void {
    if (this.shown) this.stream.write('\r\x1b[K');
    this.shown = false;
  }
}

const fmt = (n: number) => n.toLocaleString('en-US');

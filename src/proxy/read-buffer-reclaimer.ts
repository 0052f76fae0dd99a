import v8 from 'node:v8';
import vm from 'node:vm';

type Collect = (options: { type: 'minor'; execution: 'sync' }) => void;

let collect: Collect | null | undefined;

/**
 * V8's `gc`, without `--expose-gc` on the command line (the way
 * jest-leak-detector gets it); null when this V8 does not allow it.
 */
function collector(): Collect | null {
  if (collect !== undefined) return collect;
  const existing = (globalThis as { gc?: unknown }).gc;
  if (typeof existing === 'function') return (collect = existing as Collect);
  try {
    v8.setFlagsFromString('--expose-gc');
    collect = vm.runInNewContext('gc') as Collect;
  } catch {
    collect = null;
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
  return collect;
}

/**
 * Keeps a streamed body from piling up dead read buffers. Node reads a
 * socket into a new off-heap buffer each time (up to 64 KB), freed only when
 * V8 collects the small object that wraps it; V8 schedules its young
 * collections by what its own heap allocates, which a body streamed through
 * hardly touches, so a fast 50 MB download left 30+ MB of dead buffers
 * behind before anything collected them (measured: the same for 50 and
 * 200 MB). After every `everyBytes` streamed, this asks for a
 * young-generation collection: a fraction of a millisecond with the young
 * generation this leaves, which frees them.
 */
export class ReadBufferReclaimer {
  private since = 0;

  constructor(private readonly everyBytes = 2 * 1024 * 1024) {}

  /** Counts bytes that went through; collects when `everyBytes` have since the last time. */
  passed(bytes: number): void {
    this.since += bytes;
    if (this.since < this.everyBytes) return;
    this.since = 0;
    collector()?.({ type: 'minor', execution: 'sync' });
  }
}

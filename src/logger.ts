import pino, { type Logger } from 'pino';
import SonicBoom from 'sonic-boom';

/**
 * Paths pino censors in every log line. Secrets never belong in a log call in
 * the first place; this is the net under that rule, for a token or a request
 * that gets logged whole by mistake.
 */
export const REDACTED_PATHS = [
  'accessToken',
  'refreshToken',
  'clientSecret',
  'grantToken',
  'apiKey',
  'key',
  'password',
  'authorization',
  '*.accessToken',
  '*.refreshToken',
  '*.clientSecret',
  '*.grantToken',
  '*.apiKey',
  '*.key',
  '*.password',
  '*.authorization',
  '*.*.accessToken',
  '*.*.refreshToken',
  '*.*.clientSecret',
  '*.*.grantToken',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'variables',
  '*.variables',
];

export type { Logger };

/**
 * Standard output as a log sink that never holds the process: writes are
 * asynchronous, and once a write fails (`EPIPE`: nobody reads the output any
 * more) the sink drops what follows instead of retrying. On exit it writes
 * what is left synchronously, as pino's own destination does, but gives up
 * on an error or after about a second of a full pipe, where pino's (with
 * sonic-boom 4) retried forever.
 */
export function stdoutDestination(): SonicBoom {
  const sink = new SonicBoom({ fd: process.stdout.fd ?? 1, sync: false });
  let broken = false;
  sink.on('error', () => {
    broken = true;
    sink.write = () => true;
    sink.flush = (cb?: (err?: Error) => void) => cb?.();
  });
  process.once('exit', () => {
    if (broken) return;
    // Ten retries of 100 ms on EAGAIN (a reader that does not read), then the rest is dropped.
    (sink as unknown as { maxWriteRetries: number }).maxWriteRetries = 10;
    try {
      sink.flushSync();
    } catch {
      // The sink is gone: nothing more can be written.
    }
  });
  return sink;
}

/**
 * Flushes the log, then exits with `code` — after at most `timeoutMs` even
 * when the sink cannot take the rest (a pipe nobody reads, a stalled
 * terminal), so leaving never depends on where the log goes.
 */
export function exitAfterFlush(logger: Logger, code: number, timeoutMs = 1_000): void {
  const exit = () => process.exit(code);
  setTimeout(exit, timeoutMs);
  try {
    logger.flush(() => exit());
  } catch {
    exit();
  }
}

/**
 * One JSON log line as a line for a terminal: `HH:MM:SS.mmm LEVEL message
 * key=value …` (the same fields, already redacted). Anything else is kept as is.
 */
export function prettyLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { time, level, msg, pid: _pid, name: _name, ...fields } = entry;
  const when = typeof time === 'string' ? time.slice(11, 23) : '';
  const rest = Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === 'string' && /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${when} ${String(level).toUpperCase().padEnd(5)} ${typeof msg === 'string' ? msg : ''}${rest ? `  ${rest}` : ''}\n`;
}

/** A pino destination writing `prettyLine`s to `out` (stdout). */
export function prettyDestination(out: NodeJS.WritableStream = process.stdout): pino.DestinationStream {
  return { write: (line: string) => void out.write(prettyLine(line)) };
}

/** The process logger: JSON lines on stdout (or `destination`), secrets redacted. */
export function createLogger(level: string, destination: pino.DestinationStream = stdoutDestination()): Logger {
  return pino(
    {
      name: 'tokengate',
      level,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/** What a log line keeps of an error it is not about: its name and code (never its message, which may quote input). */
export function errorShape(err: unknown): { name?: string; code?: unknown } {
  return { name: (err as Error)?.name, code: (err as { code?: unknown })?.code };
}

import pino, { type Logger } from 'pino';

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
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
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

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

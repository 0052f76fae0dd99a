/** A failure the CLI reports as one line on stderr, with its exit code (1: failed, 2: bad usage or configuration). */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
    /** Lines printed before the message (e.g. the invalid rows of an import). */
    readonly details: readonly string[] = [],
  ) {
    super(message);
  }
}

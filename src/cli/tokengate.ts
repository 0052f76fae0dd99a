#!/usr/bin/env node
/**
 * The `tokengate` command (package.json `bin`). Every failure is one line
 * `tokengate: …` on stderr (after the rows it concerns, for an import) and a
 * non-zero exit: 1 when the command failed, 2 for bad usage or configuration.
 */
import 'reflect-metadata';
import { CommanderError } from 'commander';
import { buildProgram } from './program';
import { CliError } from './errors';
import { processIo, println, type CliIo } from './io';

/** Runs the command line `argv` (with node and the script first, as `process.argv`). @returns the exit code. */
export async function run(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const program = buildProgram(io, version());
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and --version end with exit code 0; usage errors were printed by commander.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof CliError) {
      println(io.stderr, `tokengate: ${err.message}`);
      for (const line of err.details) println(io.stderr, line);
      return err.exitCode;
    }
    // Not expected: say so without a stack trace or driver message (they may quote values).
    println(
      io.stderr,
      `tokengate: failed unexpectedly (${(err as Error)?.name ?? 'error'}${(err as { code?: unknown })?.code ? ` ${(err as { code?: unknown }).code}` : ''})`,
    );
    if (io.env.TOKENGATE_DEBUG === '1') println(io.stderr, String((err as Error)?.stack ?? err));
    return 1;
  }
}

function version(): string {
  try {
    // dist/cli/tokengate.js → ../../package.json
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- read at run time, from beside dist/
    return (require('../../package.json') as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

if (require.main === module) {
  run(process.argv).then(
    (code) => {
      process.exitCode = code;
    },
    () => {
      process.exitCode = 1;
    },
  );
}

/** Where a command writes: stdout for its result, stderr for progress and problems. */
export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  env: NodeJS.ProcessEnv;
}

export const processIo = (): CliIo => ({ stdout: process.stdout, stderr: process.stderr, env: process.env });

/** Writes one line. */
export const println = (stream: NodeJS.WritableStream, line: string): void => {
  stream.write(line + '\n');
};

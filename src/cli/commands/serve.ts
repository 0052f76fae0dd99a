import { main } from '../../main';
import type { CliIo } from '../io';

/** `tokengate serve`: the gateway process, exactly what `npm start` runs (`main()` of `src/main.ts`). */
export async function serveCommand(io: CliIo): Promise<void> {
  await main(io.env);
}

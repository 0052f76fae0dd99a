/**
 * Run under `valgrind --tool=callgrind` by the `instructions` section: a
 * gateway in this process, configured from the environment as `tokengate
 * serve` is, answers `warm` requests of one query and then `count` more,
 * through `app.inject()` (no sockets: the count is the gateway's own work).
 * The section runs it twice with different counts; the difference of the
 * two totals, divided by the difference of the counts, is one request's
 * instructions, whatever starting and stopping cost. Run with `--expose-gc`:
 * the heap is collected once the warm-up is done.
 *
 *   node instructions-child.js <floor|tokenById|tokenByUserName> <warm> <count> <keys.json>
 *
 * keys.json: `{ "apiKey": "...", "ids": [...], "userNames": [...] }`.
 */
import 'reflect-metadata';
import fs from 'node:fs';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { createGateway } from '../../src/server/gateway';
import { BY_ID, BY_ID_QUERY, BY_NAME, BY_NAME_QUERY, FLOOR_QUERY, verifyFloor } from '../sections/http';

export type InstructionsQuery = 'floor' | 'tokenById' | 'tokenByUserName';

async function main(): Promise<void> {
  const [query, warmArg, countArg, keysFile] = process.argv.slice(2) as [InstructionsQuery, string, string, string];
  const { apiKey, ids, userNames } = JSON.parse(fs.readFileSync(keysFile, 'utf8')) as { apiKey: string; ids: string[]; userNames: string[] };
  const config = loadConfig(process.env);
  const gateway = await createGateway(config, {
    logger: createLogger('warn', new Writable({ write: (_c, _e, cb) => cb() })),
    defaultMetrics: false,
  });
  // The bodies are made before counting starts: the count is the gateway's work, not the harness's.
  const bodies =
    query === 'floor'
      ? [JSON.stringify({ query: FLOOR_QUERY })]
      : query === 'tokenById'
        ? ids.map((id) => JSON.stringify({ query: BY_ID_QUERY, variables: { id } }))
        : userNames.map((u) => JSON.stringify({ query: BY_NAME_QUERY, variables: { u } }));
  const verify = query === 'floor' ? verifyFloor : query === 'tokenById' ? BY_ID.verify : BY_NAME.verify;
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` };
  const warm = Number(warmArg);
  const total = warm + Number(countArg);
  for (let i = 0; i < total; i++) {
    // Both runs start counting from a collected heap: where a full collection falls moves a count by ~100 k a request.
    if (i === warm) (globalThis as { gc?: () => void }).gc?.();
    const res = await gateway.app.inject({ method: 'POST', url: '/graphql', headers, payload: bodies[i % bodies.length]! });
    if (res.statusCode !== 200 || !verify(res.body)) throw new Error(`${query} answered ${res.statusCode}: ${res.body.slice(0, 300)}`);
  }
  await gateway.close();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`instructions-child: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);

/**
 * TOKENGATE_LOG_FORMAT=pretty: the gateway's log as readable lines for a
 * terminal (time, level, message, fields), still without a secret.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnGateway } from './support/process-gateway';

describe('TOKENGATE_LOG_FORMAT=pretty', () => {
  it('writes one readable line per entry instead of JSON, and never the admin key', async () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'tokengate-logfmt-'));
    try {
      const gw = await spawnGateway({ TOKENGATE_LOG_FORMAT: 'pretty' }, { cwd, timeoutMs: 60_000 });
      const key = fs.readFileSync(path.join(cwd, 'data', 'admin.key'), 'utf8').trim();
      await fetch(`${gw.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: '{"query":"{ tokens { totalCount } }"}',
      });
      expect(await gw.stop()).toBe(0);
      const lines = gw.output().trim().split('\n');
      expect(lines.filter((l) => l.startsWith('{'))).toEqual([]);
      expect(lines).toContainEqual(
        expect.stringMatching(
          /^\d\d:\d\d:\d\d\.\d{3} INFO {2}tokengate serving on http:\/\/127\.0\.0\.1:\d+\/graphql {2}host=127\.0\.0\.1 port=\d+ store=sqlite/,
        ),
      );
      expect(lines).toContainEqual(expect.stringMatching(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}graphql request {2}.*operation=tokens outcome=ok/));
      expect(gw.output()).not.toContain(key);
    } finally {
      fs.rmSync(cwd, { recursive: true, force: true });
    }
  });
});

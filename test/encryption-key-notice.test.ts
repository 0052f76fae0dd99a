/**
 * The first start generates data/encryption.key, and losing it loses every
 * stored token: the start-up log says where it is and to back it up, at
 * every start while the key comes from that file — and never prints it.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnGateway } from './support/process-gateway';

describe('the start-up log about the encryption key', () => {
  let cwd: string;
  beforeEach(() => {
    cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'tokengate-enckey-'));
  });
  afterEach(() => fs.rmSync(cwd, { recursive: true, force: true }));

  it('says where the generated key is and to back it up, without printing it', async () => {
    const file = path.join(cwd, 'data', 'encryption.key');
    const first = await spawnGateway({}, { cwd });
    expect(await first.stop()).toBe(0);
    const key = fs.readFileSync(file, 'utf8').trim();
    const generated = first
      .output()
      .split('\n')
      .find((l) => l.includes('"msg":"generated the encryption key'));
    expect(generated).toBeDefined();
    expect(JSON.parse(generated!)).toMatchObject({ level: 'warn', file });
    expect(generated).toMatch(/back it up/);
    expect(first.output()).not.toContain(key);

    // Later starts still say where it is (the file is not new any more).
    const second = await spawnGateway({}, { cwd });
    expect(await second.stop()).toBe(0);
    const line = second
      .output()
      .split('\n')
      .find((l) => l.includes(file));
    expect(line).toMatch(/"msg":"the encryption key is in this file: back it up/);
    expect(second.output()).not.toContain('generated the encryption key');
    expect(second.output()).not.toContain(key);
  });

  it('says nothing of a file when TOKENGATE_ENCRYPTION_KEY is set', async () => {
    const gw = await spawnGateway({ TOKENGATE_ENCRYPTION_KEY: randomBytes(32).toString('base64') }, { cwd });
    expect(await gw.stop()).toBe(0);
    expect(gw.output()).not.toContain('encryption.key');
    expect(fs.existsSync(path.join(cwd, 'data', 'encryption.key'))).toBe(false);
  });
});

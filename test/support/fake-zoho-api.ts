import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';

/** A request the fake CRM API received. */
export interface FakeApiRequest {
  method: string;
  path: string;
  query: string;
  authorization: string | null;
  headers: Record<string, string | string[] | undefined>;
  bodyBytes: number;
  bodySha256: string;
  at: number;
}

/** A fake Zoho CRM API in a process of its own (see fake-zoho-api.server.ts), controlled over HTTP. */
export interface FakeZohoApi {
  /** `http://127.0.0.1:PORT`: the apiDomain to give tokens. */
  url: string;
  pid: number;
  /** From now on, answer 401 INVALID_OAUTHTOKEN for this access token. */
  invalidate(accessToken: string): Promise<void>;
  /** Every API request received so far, in order. */
  requests(): Promise<FakeApiRequest[]>;
  /** Forgets the requests and the invalidated tokens. */
  reset(): Promise<void>;
  close(): Promise<void>;
}

const SERVER = path.join(__dirname, 'fake-zoho-api.server.ts');

/** Compiles the server file to JavaScript (once per test process) and starts it with `node`. */
export async function startFakeZohoApi(): Promise<FakeZohoApi> {
  const js = ts.transpileModule(fs.readFileSync(SERVER, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  }).outputText;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tokengate-fake-api-'));
  const file = path.join(dir, 'server.js');
  fs.writeFileSync(file, js);
  const child: ChildProcess = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const onData = (c: Buffer) => {
      output += c.toString();
      const m = /listening (\d+)/.exec(output);
      if (m) resolve(Number(m[1]));
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    child.once('exit', (code) => reject(new Error(`the fake API exited (${code}) before listening:\n${output}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const control = async (p: string, body?: unknown) => {
    const res = await fetch(`${url}/__fake/${p}`, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`fake API control ${p}: HTTP ${res.status}`);
    return res.json();
  };
  return {
    url,
    pid: child.pid!,
    invalidate: async (accessToken) => void (await control('invalidate', { token: accessToken })),
    requests: async () => (await control('requests')) as FakeApiRequest[],
    reset: async () => void (await control('reset', {})),
    async close() {
      child.kill('SIGTERM');
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const CLIENT_DIR = path.resolve(__dirname, '../../packages/client');

/** The environment of a child npm: this one without the npm_* variables an outer `npm test` sets (workspace, prefix, …). */
export function cleanNpmEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return { ...env, ...extra };
}

export interface PackedClient {
  /** The tarball `npm pack` wrote. */
  tarball: string;
  /** The files in it (paths inside `package/`), and its size in bytes. */
  files: string[];
  size: number;
}

/**
 * `npm pack` of packages/client, as built by `npm run build` (which
 * `npm test` runs first), into `dir`. Its `prepack` (a fresh build, which
 * empties dist/ first) is skipped: other tests running at the same time load
 * the client from that dist/ (the CLI does), and would find it gone.
 */
export function packClient(dir: string): PackedClient {
  if (!fs.existsSync(path.join(CLIENT_DIR, 'dist', 'cjs', 'index.js')) || !fs.existsSync(path.join(CLIENT_DIR, 'dist', 'esm', 'index.js'))) {
    throw new Error('packages/client is not built: run `npm run build` first');
  }
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {
    cwd: CLIENT_DIR,
    env: cleanNpmEnv(),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const [info] = JSON.parse(out.slice(out.indexOf('['))) as Array<{ filename: string; size: number; files: Array<{ path: string }> }>;
  return { tarball: path.join(dir, info!.filename), files: info!.files.map((f) => f.path).sort(), size: info!.size };
}

/**
 * Installs a packed client into a new empty folder outside the repository,
 * offline and with an empty npm cache: it works only if the package needs
 * nothing else. @returns the folder.
 */
export function installPacked(tarball: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tokengate-client-install-'));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--cache', path.join(dir, '.npm-cache'), tarball], {
    cwd: dir,
    env: cleanNpmEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return dir;
}

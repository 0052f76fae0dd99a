/**
 * Summarizes V8 CPU profiles (`--cpu-prof`, as BENCH_PROFILE=1 writes them):
 * the functions with the most self time, and self time by package (a
 * dependency under node_modules, tokengate's own files, Node's internals).
 *
 *   node dist-bench/bench/profile-top.js bench/profiles/03-http-sqlite-100000 [top=30] [pattern ...]
 *
 * Each further argument is a pattern `name@file` (either part may be empty,
 * e.g. `@query-cost.plugin`, `decrypt@keyring`): the time of the samples with
 * a matching frame anywhere on their stack (inclusive time) is printed too.
 */
import fs from 'node:fs';
import path from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
  parent?: ProfileNode;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function packageOf(url: string): string {
  if (!url) return '(native / V8)';
  if (url.startsWith('node:')) return 'node:internal';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const dist = url.indexOf('/dist/');
  if (dist >= 0)
    return `tokengate ${url
      .slice(dist + 1)
      .split('/')
      .slice(0, 2)
      .join('/')}`;
  return url.replace(/^file:\/\//, '');
}

function matches(f: CallFrame, pattern: string): boolean {
  const [name, file] = pattern.split('@') as [string, string | undefined];
  return (!name || f.functionName === name) && (!file || f.url.includes(file));
}

function summarize(files: string[], top: number, patterns: string[]): void {
  const inclusive = new Map<string, number>(patterns.map((p) => [p, 0]));
  const self = new Map<string, number>();
  const byPackage = new Map<string, number>();
  let total = 0;
  for (const file of files) {
    const p = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    for (const n of p.nodes) for (const c of n.children ?? []) byId.get(c)!.parent = n;
    for (let i = 0; i < p.samples.length; i++) {
      const node = byId.get(p.samples[i]!);
      const dt = p.timeDeltas[i] ?? 0;
      if (!node) continue;
      const f = node.callFrame;
      if (f.functionName === '(idle)' || f.functionName === '(program)') continue;
      total += dt;
      for (const pattern of patterns) {
        for (let n: ProfileNode | undefined = node; n; n = n.parent) {
          if (matches(n.callFrame, pattern)) {
            inclusive.set(pattern, inclusive.get(pattern)! + dt);
            break;
          }
        }
      }
      const key = `${f.functionName || '(anonymous)'}  ${f.url ? `${f.url.replace(/^file:\/\/.*?\/(node_modules|dist)\//, '$1/')}:${f.lineNumber + 1}` : ''}`;
      self.set(key, (self.get(key) ?? 0) + dt);
      const pkg = f.functionName === '(garbage collector)' ? '(garbage collector)' : packageOf(f.url);
      byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + dt);
    }
  }
  const pct = (v: number) => `${((v / total) * 100).toFixed(1).padStart(5)}%`;
  process.stdout.write(`${files.length} profile(s), ${(total / 1000).toFixed(0)} ms busy (idle and (program) left out)\n\nself time by package:\n`);
  for (const [k, v] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 20)) process.stdout.write(`  ${pct(v)}  ${k}\n`);
  if (patterns.length > 0) {
    process.stdout.write('\ninclusive time of samples with a matching frame on the stack:\n');
    for (const [k, v] of inclusive) process.stdout.write(`  ${pct(v)}  ${k}\n`);
  }
  process.stdout.write(`\ntop ${top} functions by self time:\n`);
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`  ${pct(v)}  ${k}\n`);
}

const target = process.argv[2];
if (!target) {
  process.stderr.write('usage: node dist-bench/bench/profile-top.js <profile file or directory> [top]\n');
  process.exit(2);
}
const files = fs.statSync(target).isDirectory()
  ? fs
      .readdirSync(target)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => path.join(target, f))
  : [target];
summarize(files, Number(process.argv[3] ?? 30), process.argv.slice(4));

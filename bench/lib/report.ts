/** Figures, the printed table, `results.json` and the table of BENCHMARKS.md. */
import fs from 'node:fs';
import path from 'node:path';
import type { Machine } from './machine';
import type { BenchOptions, Section } from './options';
import { median, round } from './stats';

export interface Target {
  /** What is compared: the ratio to the reference, or the value itself. */
  of: 'ratio' | 'value';
  op: '>=' | '<=' | '<' | '==';
  value: number;
}

export interface Quantity {
  label: string;
  value: number;
  unit: string;
}

export interface Figure {
  /** Stable, dotted: `http.sqlite.tokenById.100000.rps`. */
  id: string;
  section: Section;
  /** What it is, for the table. */
  label: string;
  value: number;
  unit: string;
  /** What it is measured against, in the same run. */
  reference?: Quantity;
  /** value / reference (median of the per-pair ratios where there are pairs). */
  ratio?: number;
  target?: Target;
  met?: boolean;
  /** Anything else worth keeping (the individual runs, latencies). */
  detail?: Record<string, unknown>;
}

export function check(target: Target, figure: { value: number; ratio?: number }): boolean {
  const v = target.of === 'ratio' ? figure.ratio : figure.value;
  if (v === undefined || !Number.isFinite(v)) return false;
  switch (target.op) {
    case '>=':
      return v >= target.value;
    case '<=':
      return v <= target.value;
    case '<':
      return v < target.value;
    case '==':
      return v === target.value;
  }
}

/** Adds `met` from the target. */
export function figure(f: Omit<Figure, 'met'>): Figure {
  return f.target ? { ...f, met: check(f.target, f) } : f;
}

/**
 * A figure of paired runs (a variant against a reference measured next to
 * it, as in the scale-out sections): the variant's median value, the
 * reference's, and the median of the per-pair ratios.
 */
export function pairedFigure<P>(
  pairs: readonly P[],
  f: Omit<Figure, 'met' | 'value' | 'reference' | 'ratio'> & { variant: (p: P) => number; reference: { label: string; of: (p: P) => number } },
): Figure {
  const { variant, reference, ...rest } = f;
  const med = (g: (p: P) => number) => round(median(pairs.map(g)), 3);
  return figure({
    ...rest,
    value: med(variant),
    reference: { label: reference.label, value: med(reference.of), unit: f.unit },
    ratio: med((p) => variant(p) / reference.of(p)),
  });
}

const OP_TEXT: Record<Target['op'], string> = { '>=': '≥', '<=': '≤', '<': '<', '==': '=' };

export function formatQuantity(value: number, unit: string): string {
  if (!Number.isFinite(value)) return 'n/a';
  const digits =
    unit === 'ms'
      ? value < 10
        ? 2
        : value < 100
          ? 1
          : 0
      : unit === 'ratio'
        ? 2
        : unit.endsWith('/req')
          ? value < 10
            ? 2
            : 0
          : Math.abs(value) < 10 && !Number.isInteger(value)
            ? 2
            : 0;
  const n = value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  return unit === '' ? n : `${n} ${unit}`;
}

export function formatTarget(t: Target | undefined, unit: string): string {
  if (!t) return '';
  return t.of === 'ratio' ? `ratio ${OP_TEXT[t.op]} ${t.value}` : `${OP_TEXT[t.op]} ${formatQuantity(t.value, unit)}`;
}

interface Row {
  figure: string;
  value: string;
  reference: string;
  ratio: string;
  target: string;
  met: string;
}

function rows(figures: Figure[]): Row[] {
  return figures.map((f) => ({
    figure: f.label,
    value: formatQuantity(f.value, f.unit),
    reference: f.reference ? `${formatQuantity(f.reference.value, f.reference.unit)} (${f.reference.label})` : '',
    ratio: f.ratio === undefined ? '' : f.ratio.toFixed(2),
    target: formatTarget(f.target, f.unit),
    met: f.met === undefined ? '' : f.met ? 'yes' : 'NO',
  }));
}

const COLUMNS: Array<[keyof Row, string]> = [
  ['figure', 'figure'],
  ['value', 'value'],
  ['reference', 'reference (same run)'],
  ['ratio', 'ratio'],
  ['target', 'target'],
  ['met', 'met?'],
];

/** A plain-text table for the terminal. */
export function textTable(figures: Figure[]): string {
  const rs = rows(figures);
  const width = COLUMNS.map(([k, h]) => Math.max(h.length, ...rs.map((r) => r[k].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 || i === 2 || i === 4 ? c.padEnd(width[i]!) : c.padStart(width[i]!))).join('  ');
  const out = [line(COLUMNS.map(([, h]) => h)), width.map((w) => '-'.repeat(w)).join('  ')];
  let section: string | null = null;
  for (let i = 0; i < rs.length; i++) {
    if (figures[i]!.section !== section) {
      section = figures[i]!.section;
      if (i > 0) out.push('');
    }
    out.push(line(COLUMNS.map(([k]) => rs[i]![k])));
  }
  return out.join('\n');
}

/** The same table in Markdown. */
export function markdownTable(figures: Figure[]): string {
  const rs = rows(figures);
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `| ${COLUMNS.map(([, h]) => h).join(' | ')} |`,
    `| ${COLUMNS.map((_, i) => (i === 1 || i === 3 ? '---:' : '---')).join(' | ')} |`,
    ...rs.map((r) => `| ${COLUMNS.map(([k]) => esc(k === 'met' && r.met === 'NO' ? '**NO**' : r[k])).join(' | ')} |`),
  ].join('\n');
}

export interface Results {
  tool: 'tokengate bench';
  complete: boolean;
  quick: boolean;
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  machine: Machine & { loadAverageAtEnd: number };
  options: Pick<BenchOptions, 'sizes' | 'runSeconds' | 'pairs' | 'connections' | 'sections' | 'stores'>;
  seeding: Record<string, number>;
  figures: Figure[];
  notes: string[];
}

/** Writes the results (atomically: a temporary file renamed into place). */
export function writeResults(file: string, results: Results): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(results, null, 2) + '\n');
  fs.renameSync(tmp, file);
}

const START = '<!-- bench:latest:start -->';
const END = '<!-- bench:latest:end -->';

/** The Markdown block of BENCHMARKS.md between the markers: machine, date, duration and table. */
export function latestBlock(results: Results): string {
  const m = results.machine;
  return [
    START,
    `Measured ${results.startedAt.slice(0, 16).replace('T', ' ')} UTC in ${Math.round(results.durationSeconds / 60)} min ` +
      `on ${m.cores} cores (${m.cpuModel}), ${m.memoryGb} GB, ${m.os}; Node ${m.node}, SQLite ${m.sqlite}, MariaDB ${m.mariadb ?? 'n/a'}; ` +
      `load average ${m.loadAverageAtStart} at the start, ${m.loadAverageAtEnd} at the end; commit ${m.git.commit ?? '?'}${m.git.srcModified ? ' (src/ modified)' : ''}. ` +
      `${results.options.sizes.small.toLocaleString('en-US')} and ${results.options.sizes.large.toLocaleString('en-US')} tokens, ` +
      `${results.options.runSeconds} s load runs, ${results.options.connections} connections, median of ${results.options.pairs} pairs.`,
    '',
    markdownTable(results.figures),
    END,
  ].join('\n');
}

/** Replaces the block between the markers of BENCHMARKS.md (when the file has them). @returns whether it did. */
export function updateBenchmarksMd(file: string, results: Results): boolean {
  if (!fs.existsSync(file)) return false;
  const text = fs.readFileSync(file, 'utf8');
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a < 0 || b < a) return false;
  fs.writeFileSync(file, text.slice(0, a) + latestBlock(results) + text.slice(b + END.length));
  return true;
}

// Output of the benchmarks: markdown tables, and BENCHMARKS.md updated one section at a time so that each benchmark owns its section.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

/** A GitHub-flavoured markdown table; numbers are right-aligned because they are compared down the column. */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[], numericFrom = 1): string {
  const align = header.map((_, i) => (i >= numericFrom ? '---:' : '---'));
  return [header, align, ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

/** Fixed decimals that still show small values (0.029, 0.93) instead of rounding them towards zero. */
export function fmt(value: number, decimals = 1): string {
  if (!Number.isFinite(value)) return 'n/a';
  const abs = Math.abs(value);
  const d = abs === 0 || abs >= 1 ? decimals : abs < 0.1 ? Math.max(decimals, 3) : Math.max(decimals, 2);
  return value.toFixed(d);
}

/**
 * Replaces the body of `heading` (up to the next `## ` heading) in a markdown file, or appends the section, keeping every
 * other section byte for byte: other benchmarks write their own sections of the same file.
 */
export function upsertSection(path: string, heading: string, body: string): void {
  const current = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
  const lines = current.split('\n');
  const start = lines.findIndex((l) => l.trimEnd() === heading);
  const section = [heading, '', ...body.trimEnd().split('\n'), ''];
  let next: string[];
  if (start < 0) {
    const head = current.trimEnd().split('\n');
    next = [...head, '', ...section];
  } else {
    let end = lines.findIndex((l, i) => i > start && /^## /.test(l));
    if (end < 0) end = lines.length;
    next = [...lines.slice(0, start), ...section, ...lines.slice(end)];
  }
  const text = `${next.join('\n').trimEnd()}\n`;
  // Write then rename: a reader (or a concurrent editor of another section) never sees a half-written file.
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** What a benchmark's BENCHMARKS.md section says, in the order every section says it. */
export interface SectionReport {
  intro: string;
  /** The "- Machine:" line, without the prefix. */
  machine: string;
  /** The "- Command:" line, without the prefix. */
  command: string;
  table: string;
  targets: readonly string[];
  notes: readonly string[];
}

/** The body of a benchmark section: what was compared, when, where and how, the table, the targets and the notes. */
export function sectionBody(r: SectionReport): string {
  return [
    r.intro,
    '',
    `- Date: ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    `- Machine: ${r.machine}`,
    `- Command: ${r.command}`,
    '',
    r.table,
    '',
    'Targets:',
    '',
    ...r.targets.map((t) => `- ${t}`),
    '',
    'Notes:',
    '',
    ...r.notes.map((n) => `- ${n}`),
  ].join('\n');
}

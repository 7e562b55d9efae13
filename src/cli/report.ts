// Human-readable validation report for the terminal.
import type { ValidationIssue } from '../fhir/outcome/issue.js';

const LABEL: Record<ValidationIssue['severity'], string> = {
  fatal: 'FATAL  ',
  error: 'ERROR  ',
  warning: 'WARNING',
  information: 'INFO   ',
};

export interface ReportOptions {
  color: boolean;
  showInfo: boolean;
}

function paint(on: boolean, code: string, s: string): string {
  return on ? `\x1b[${code}m${s}\x1b[0m` : s;
}

export function formatReport(
  file: string,
  issues: readonly ValidationIssue[],
  profiles: readonly string[],
  opts: ReportOptions,
): string {
  const count = (s: ValidationIssue['severity'][]) => issues.filter((i) => s.includes(i.severity)).length;
  const errors = count(['error', 'fatal']);
  const warnings = count(['warning']);
  const infos = count(['information']);
  const lines: string[] = [];
  const verdict = errors > 0 ? paint(opts.color, '31;1', 'INVALID') : paint(opts.color, '32;1', 'VALID');
  lines.push(`${verdict}  ${file}${profiles.length ? `  (profile: ${profiles.join(', ')})` : ''}`);
  for (const i of issues) {
    if (i.severity === 'information' && !opts.showInfo) continue;
    const color = i.severity === 'warning' ? '33' : i.severity === 'information' ? '36' : '31';
    lines.push(`  ${paint(opts.color, color, LABEL[i.severity])} ${i.expression || '(root)'}`);
    lines.push(`           [${i.rule}] ${i.message}`);
    if (i.source) lines.push(`           source: ${i.source}`);
  }
  lines.push(`  ${errors} error(s), ${warnings} warning(s), ${infos} information message(s)`);
  return lines.join('\n');
}

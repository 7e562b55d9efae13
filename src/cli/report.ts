// Human-readable validation report for the terminal. Findings about the data are listed one
// by one; "could not check" notices (a package, profile or value set missing) are folded into
// one line per missing package unless `showNotices` asks for each of them.
import { issueCategory, type ValidationIssue } from '../fhir/outcome/issue.js';
import { foldNotices } from '../fhir/outcome/notices.js';

const LABEL: Record<ValidationIssue['severity'], string> = {
  fatal: 'FATAL  ',
  error: 'ERROR  ',
  warning: 'WARNING',
  information: 'INFO   ',
};

export interface ReportOptions {
  color: boolean;
  showInfo: boolean;
  /** List every "could not check" notice instead of one line per missing package. */
  showNotices?: boolean;
  /** The IG version that decided (`ans.fhir.fr.tddui#2.3.0`). */
  ig?: string;
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
  const data = issues.filter((i) => issueCategory(i) === 'data' || i.severity === 'error' || i.severity === 'fatal');
  const igDefects = issues.filter((i) => !data.includes(i) && issueCategory(i) === 'ig-defect');
  const notices = issues.filter((i) => !data.includes(i) && issueCategory(i) === 'not-checked');
  const count = (s: ValidationIssue['severity'][]) => data.filter((i) => s.includes(i.severity)).length;
  const errors = count(['error', 'fatal']);
  const warnings = count(['warning']);
  const infos = count(['information']);
  const lines: string[] = [];
  const verdict = errors > 0 ? paint(opts.color, '31;1', 'INVALID') : paint(opts.color, '32;1', 'VALID');
  const under = opts.ig ? `  [${opts.ig}]` : '';
  lines.push(`${verdict}  ${file}${under}${profiles.length ? `  (profile: ${profiles.join(', ')})` : ''}`);
  const show = (i: ValidationIssue) => {
    const color = i.severity === 'warning' ? '33' : i.severity === 'information' ? '36' : '31';
    lines.push(`  ${paint(opts.color, color, LABEL[i.severity])} ${i.expression || '(root)'}`);
    lines.push(`           [${i.rule}] ${i.message}`);
    if (i.source) lines.push(`           source: ${i.source}`);
  };
  for (const i of data) {
    if (i.severity === 'information' && !opts.showInfo) continue;
    show(i);
  }
  if (igDefects.length) {
    lines.push(`  IG defects the data follow (${igDefects.length}; docs/decisions.md):`);
    for (const i of igDefects) show(i);
  }
  if (notices.length) {
    if (opts.showNotices) {
      lines.push(`  Not checked (${notices.length}):`);
      for (const n of notices) show(n);
    } else {
      lines.push(`  Not checked (${notices.length} notice(s); --notices lists them):`);
      for (const g of foldNotices(notices)) {
        const what = g.key !== g.first.rule ? `${g.key} missing or partial` : g.first.message;
        lines.push(`  ${paint(opts.color, '2', 'NOTICE ')} ${what}: ${g.count} check(s) not made [${g.rules.join(', ')}]`);
      }
    }
  }
  lines.push(`  ${errors} error(s), ${warnings} warning(s), ${infos} information message(s) about the data; ${igDefects.length} IG defect(s); ${notices.length} check(s) not made`);
  return lines.join('\n');
}

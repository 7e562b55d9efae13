// Human-readable validation report for the terminal. Findings about the data are listed one
// by one; "could not check" notices (a package, profile or value set missing) are folded into
// one line per missing package unless `showNotices` asks for each of them.
import { issueCategory, type ValidationIssue } from '../fhir/outcome/issue.js';
import { foldNotices } from '../fhir/outcome/notices.js';
import { plural, pluralEn } from '../fhir/outcome/plural.js';

const LABELS: Record<'en' | 'fr', Record<ValidationIssue['severity'], string>> = {
  en: { fatal: 'FATAL  ', error: 'ERROR  ', warning: 'WARNING', information: 'INFO   ' },
  fr: { fatal: 'FATALE ', error: 'ERREUR ', warning: 'AVERTIS', information: 'INFO   ' },
};

const WORDS = {
  en: {
    valid: 'VALID',
    invalid: 'INVALID',
    profile: 'profile',
    root: '(root)',
    igDefects: (n: number) => `IG defects the data follow (${n}; docs/decisions.md):`,
    notChecked: (n: number) => `Not checked (${n}):`,
    notCheckedFolded: (n: number) => `Not checked (${pluralEn(n, 'notice', 'notices')}; --notices lists them):`,
    notice: 'NOTICE ',
    missing: (k: string) => `${k} missing or partial`,
    notMade: (n: number, rules: string) => `${pluralEn(n, 'check', 'checks')} not made [${rules}]`,
    total: (e: number, w: number, i: number, d: number, n: number) =>
      `${pluralEn(e, 'error', 'errors')}, ${pluralEn(w, 'warning', 'warnings')}, ${pluralEn(i, 'information message', 'information messages')} about the data; ${pluralEn(d, 'IG defect', 'IG defects')}; ${pluralEn(n, 'check', 'checks')} not made`,
  },
  fr: {
    valid: 'VALIDE',
    invalid: 'INVALIDE',
    profile: 'profil',
    root: '(racine)',
    igDefects: (n: number) => `Défauts du guide que les données suivent (${n} ; docs/decisions.md) :`,
    notChecked: (n: number) => `Vérifications non faites (${n}) :`,
    notCheckedFolded: (n: number) => `Vérifications non faites (${n} ; --notices les liste) :`,
    notice: 'NOTE   ',
    missing: (k: string) => `${k} absent ou partiel`,
    notMade: (n: number, rules: string) => `${plural(n, 'vérification non faite', 'vérifications non faites')} [${rules}]`,
    total: (e: number, w: number, i: number, d: number, n: number) =>
      `${plural(e, 'erreur', 'erreurs')}, ${plural(w, 'avertissement', 'avertissements')}, ${plural(i, 'information', 'informations')} sur les données ; ${plural(d, 'défaut', 'défauts')} du guide ; ${plural(n, 'vérification non faite', 'vérifications non faites')}`,
  },
};

export interface ReportOptions {
  color: boolean;
  showInfo: boolean;
  /** List every "could not check" notice instead of one line per missing package. */
  showNotices?: boolean;
  /** The IG version that decided (`ans.fhir.fr.tddui#2.3.0`). */
  ig?: string;
  /** Language of the report (default en); messages in French when the rule has one. */
  lang?: 'en' | 'fr';
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
  const lang = opts.lang ?? 'en';
  const w = WORDS[lang];
  const verdict = errors > 0 ? paint(opts.color, '31;1', w.invalid) : paint(opts.color, '32;1', w.valid);
  const under = opts.ig ? `  [${opts.ig}]` : '';
  lines.push(`${verdict}  ${file}${under}${profiles.length ? `  (${w.profile}: ${profiles.join(', ')})` : ''}`);
  const show = (i: ValidationIssue) => {
    const color = i.severity === 'warning' ? '33' : i.severity === 'information' ? '36' : '31';
    lines.push(`  ${paint(opts.color, color, LABELS[lang][i.severity])} ${i.expression || w.root}`);
    lines.push(`           [${i.rule}] ${lang === 'fr' ? (i.messageFr ?? i.message) : i.message}`);
    if (i.source) lines.push(`           source: ${i.source}`);
  };
  for (const i of data) {
    if (i.severity === 'information' && !opts.showInfo) continue;
    show(i);
  }
  if (igDefects.length) {
    lines.push(`  ${w.igDefects(igDefects.length)}`);
    for (const i of igDefects) show(i);
  }
  if (notices.length) {
    if (opts.showNotices) {
      lines.push(`  ${w.notChecked(notices.length)}`);
      for (const n of notices) show(n);
    } else {
      lines.push(`  ${w.notCheckedFolded(notices.length)}`);
      for (const g of foldNotices(notices)) {
        const what = g.key !== g.first.rule ? w.missing(g.key) : lang === 'fr' ? (g.first.messageFr ?? g.first.message) : g.first.message;
        lines.push(`  ${paint(opts.color, '2', w.notice)} ${what}${lang === 'fr' ? ' :' : ':'} ${w.notMade(g.count, g.rules.join(', '))}`);
      }
    }
  }
  lines.push(`  ${w.total(errors, warnings, infos, igDefects.length, notices.length)}`);
  return lines.join('\n');
}

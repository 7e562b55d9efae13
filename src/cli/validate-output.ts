// The reports of `tddui validate` over many files: the totals (files, valid, invalid, errors
// and warnings by rule), the JSON document (each file named), JUnit XML (one test case per file,
// one failure per error) and one self-contained French HTML page (the UI's report per file).
import { issueCategory, toOperationOutcome, type ValidationIssue } from '../fhir/outcome/issue.js';
import { findRule } from '../tddui/rule-index.js';
import { STYLE_CSS } from '../ui/assets.js';
import { html, raw } from '../ui/html.js';
import type { FileResult } from './validate-job.js';
import { plural, pluralEn } from '../fhir/outcome/plural.js';

export type Lang = 'fr' | 'en';
export type FailOn = 'error' | 'warning';

/** Whether a file fails the run at this threshold: errors always; data warnings with `warning`. */
export function fails(r: Pick<FileResult, 'errors' | 'warnings'>, failOn: FailOn): boolean {
  return r.errors > 0 || (failOn === 'warning' && r.warnings > 0);
}

export interface RuleCount {
  rule: string;
  severity: 'error' | 'warning';
  /** Occurrences over all files. */
  count: number;
  /** Files with at least one. */
  files: number;
}

export interface Summary {
  files: number;
  valid: number;
  invalid: number;
  /** Not parseable as JSON or XML (counted in `invalid` too). */
  unreadable: number;
  /** Files that could not be read at all (missing, no permission): not validated. */
  notRead: number;
  /** Files that fail at the --fail-on threshold. */
  failed: number;
  errors: number;
  warnings: number;
  /** Errors and data warnings by rule, most frequent first. */
  byRule: RuleCount[];
  failOn: FailOn;
  /** The whole run, ms. */
  ms: number;
  /** Of which building the validator (packages loaded, profiles compiled), ms. */
  startupMs: number;
}

function isDataWarning(i: ValidationIssue): boolean {
  return i.severity === 'warning' && issueCategory(i) === 'data';
}

function isError(i: ValidationIssue): boolean {
  return i.severity === 'error' || i.severity === 'fatal';
}

export function summarize(results: readonly (FileResult | undefined)[], notRead: number, failOn: FailOn, ms: number, startupMs: number): Summary {
  const s: Summary = { files: results.length, valid: 0, invalid: 0, unreadable: 0, notRead, failed: 0, errors: 0, warnings: 0, byRule: [], failOn, ms, startupMs };
  const rules = new Map<string, RuleCount>();
  for (const r of results) {
    if (!r) continue;
    if (r.status === 'valid') s.valid++;
    else s.invalid++;
    if (r.status === 'unreadable') s.unreadable++;
    if (fails(r, failOn)) s.failed++;
    s.errors += r.errors;
    s.warnings += r.warnings;
    const seen = new Set<string>();
    for (const i of r.issues) {
      const severity = isError(i) ? 'error' : isDataWarning(i) ? 'warning' : undefined;
      if (!severity) continue;
      const key = `${severity} ${i.rule}`;
      let c = rules.get(key);
      if (!c) rules.set(key, (c = { rule: i.rule, severity, count: 0, files: 0 }));
      c.count++;
      if (!seen.has(key)) {
        seen.add(key);
        c.files++;
      }
    }
  }
  s.byRule = [...rules.values()].sort((a, b) => (a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1) || b.count - a.count || (a.rule < b.rule ? -1 : 1));
  return s;
}

function rate(files: number, ms: number): string {
  return files > 0 && ms > 0 ? ((files * 1000) / ms).toFixed(1) : '–';
}

const T = {
  en: {
    files: (n: number) => pluralEn(n, 'file', 'files'),
    valid: (n: number) => `${n} valid`,
    invalid: (n: number) => `${n} invalid`,
    unreadable: (n: number) => `${n} not parseable (JSON/XML)`,
    notRead: (n: number) => `${n} could not be read`,
    failing: (n: number, f: FailOn) => `${n} failing at --fail-on ${f}`,
    errors: (n: number) => pluralEn(n, 'error', 'errors'),
    warnings: (n: number) => `${pluralEn(n, 'warning', 'warnings')} about the data`,
    more: (n: number) => `${n} more ${n === 1 ? 'rule' : 'rules'}`,
    byRule: 'By rule (occurrences, files):',
    seconds: (ms: number, startup: number, files: number) =>
      `${(ms / 1000).toFixed(1)} s (start-up ${(startup / 1000).toFixed(1)} s, then ${rate(files, ms - startup)} files/s)`,
    explain: 'tddui rules ID explains a rule.',
  },
  fr: {
    files: (n: number) => plural(n, 'fichier', 'fichiers'),
    valid: (n: number) => plural(n, 'valide', 'valides'),
    invalid: (n: number) => plural(n, 'invalide', 'invalides'),
    unreadable: (n: number) => `${plural(n, 'illisible', 'illisibles')} (ni JSON ni XML)`,
    notRead: (n: number) => `${n} impossible${n < 2 ? '' : 's'} à lire`,
    failing: (n: number, f: FailOn) => `${n} en échec au seuil --fail-on ${f}`,
    errors: (n: number) => plural(n, 'erreur', 'erreurs'),
    warnings: (n: number) => `${plural(n, 'avertissement', 'avertissements')} sur les données`,
    more: (n: number) => plural(n, 'autre règle', 'autres règles'),
    byRule: 'Par règle (occurrences, fichiers) :',
    seconds: (ms: number, startup: number, files: number) =>
      `${(ms / 1000).toFixed(1).replace('.', ',')} s (démarrage ${(startup / 1000).toFixed(1).replace('.', ',')} s, puis ${rate(files, ms - startup).replace('.', ',')} fichiers/s)`,
    explain: 'tddui rules ID explique une règle.',
  },
};

const SEV_LABEL = { en: { error: 'ERROR  ', warning: 'WARNING' }, fr: { error: 'ERREUR ', warning: 'AVERTIS' } };

/** The totals in text, for the end of a text run (and stderr of the other formats). */
export function formatSummary(s: Summary, lang: Lang, maxRules = 20): string {
  const t = T[lang];
  const lines: string[] = [];
  const parts = [t.valid(s.valid), t.invalid(s.invalid)];
  if (s.unreadable) parts.push(t.unreadable(s.unreadable));
  if (s.notRead) parts.push(t.notRead(s.notRead));
  lines.push(`${t.files(s.files)}: ${parts.join(', ')}${lang === 'fr' ? ' ; ' : '; '}${t.failing(s.failed, s.failOn)}`.replace(': ', lang === 'fr' ? ' : ' : ': '));
  lines.push(`${t.errors(s.errors)}, ${t.warnings(s.warnings)} — ${t.seconds(s.ms, s.startupMs, s.files)}`);
  if (s.byRule.length) {
    lines.push(t.byRule);
    for (const r of s.byRule.slice(0, maxRules)) lines.push(`  ${SEV_LABEL[lang][r.severity]} ${r.rule.padEnd(34)} ${String(r.count).padStart(7)} ${String(r.files).padStart(6)}`);
    if (s.byRule.length > maxRules) lines.push(`  … ${t.more(s.byRule.length - maxRules)}`);
    lines.push(t.explain);
  }
  return lines.join('\n');
}

/** The extension that names, on each OperationOutcome of `--format json`, the file it is about. */
export const VALIDATED_FILE_EXTENSION = 'urn:tddui:validated-file';

/**
 * `--format json`: one FHIR OperationOutcome per file (one for one file, an array in input order
 * for several — the contract tools such as the HL7 test-suite runner read), each naming its file
 * in an extension. A file not read at all has none (its place in the array stays, as null).
 */
export function outcomesJson(results: readonly (FileResult | undefined)[]): string {
  const list = results.map((r) => {
    if (!r) return null;
    const oo = toOperationOutcome(r.issues);
    return { resourceType: oo.resourceType, extension: [{ url: VALIDATED_FILE_EXTENSION, valueString: r.file }], issue: oo.issue };
  });
  return JSON.stringify(list.length === 1 ? list[0] : list, null, 2) + '\n';
}

/** `--format report`: the totals and one entry per file, each naming its file, with its OperationOutcome. */
export function jsonReport(results: readonly (FileResult | undefined)[], files: readonly string[], readErrors: ReadonlyMap<number, string>, s: Summary): unknown {
  return {
    summary: s,
    files: files.map((file, i) => {
      const r = results[i];
      if (!r) return { file, status: 'not-read', error: readErrors.get(i) };
      return { file, status: r.status, format: r.format, ig: r.ig, profiles: r.profiles, errors: r.errors, warnings: r.warnings, failed: fails(r, s.failOn), outcome: toOperationOutcome(r.issues) };
    }),
  };
}

/** XML 1.0 text: the five escapes, and characters XML cannot carry dropped. */
function xml(s: string): string {
  return s
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

function messageOf(i: ValidationIssue, lang: Lang): string {
  return lang === 'fr' ? (i.messageFr ?? i.message) : i.message;
}

/**
 * `--format junit`: one <testsuite>, one <testcase> per file (its path as name), one <failure>
 * per error (and per data warning with --fail-on warning), type = the rule id; a file not read
 * at all is an <error>. Warnings below the threshold go to the test case's <system-out>.
 */
export function junitReport(results: readonly (FileResult | undefined)[], files: readonly string[], readErrors: ReadonlyMap<number, string>, s: Summary, lang: Lang): string {
  const failures = results.reduce((n, r) => n + (r && fails(r, s.failOn) ? 1 : 0), 0);
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const time = (ms: number) => (ms / 1000).toFixed(3);
  out.push(`<testsuites name="tddui validate" tests="${files.length}" failures="${failures}" errors="${readErrors.size}" time="${time(s.ms)}">`);
  out.push(`  <testsuite name="tddui validate" tests="${files.length}" failures="${failures}" errors="${readErrors.size}" skipped="0" time="${time(s.ms)}">`);
  files.forEach((file, i) => {
    const r = results[i];
    const head = `    <testcase classname="tddui.validate" name="${xml(file)}" file="${xml(file)}" time="${time(r?.ms ?? 0)}"`;
    if (!r) {
      out.push(`${head}>`, `      <error type="not-read" message="${xml(readErrors.get(i) ?? '')}"/>`, '    </testcase>');
      return;
    }
    const failing = r.issues.filter((x) => isError(x) || (s.failOn === 'warning' && isDataWarning(x)));
    const other = r.issues.filter((x) => !failing.includes(x) && (isDataWarning(x) || isError(x)));
    if (failing.length === 0 && other.length === 0) {
      out.push(`${head}/>`);
      return;
    }
    out.push(`${head}>`);
    for (const x of failing) {
      const where = x.expression || '(root)';
      const body = `${x.severity.toUpperCase()} ${where}\n[${x.rule}] ${messageOf(x, lang)}${x.source ? `\nsource: ${x.source}` : ''}`;
      out.push(`      <failure type="${xml(x.rule)}" message="${xml(`${where}: ${messageOf(x, lang)}`)}">${xml(body)}</failure>`);
    }
    if (other.length) out.push(`      <system-out>${xml(other.map((x) => `${x.severity.toUpperCase()} ${x.expression || '(root)'} [${x.rule}] ${messageOf(x, lang)}`).join('\n'))}</system-out>`);
    out.push('    </testcase>');
  });
  out.push('  </testsuite>', '</testsuites>', '');
  return out.join('\n');
}

const HTML_CSS = `
.files td.file { overflow-wrap:anywhere; }
.verdict-valid { color:var(--ok); font-weight:600; } .verdict-invalid, .verdict-unreadable, .verdict-not-read { color:var(--err); font-weight:600; }
section.file-report { margin:1.5rem 0; padding-top:.5rem; border-top:2px solid var(--line); }
section.file-report h2 { overflow-wrap:anywhere; }
`;

const VERDICT_FR: Record<string, string> = { valid: 'Valide', invalid: 'Invalide', unreadable: 'Illisible', 'not-read': 'Non lu' };

/**
 * `--format html`: one self-contained French page (styles inline, no script, nothing fetched):
 * the totals, the rules met with their French text, the list of files, and each file's report
 * as in the UI (every file when there are few; the files that are not valid otherwise).
 */
export function htmlReport(results: readonly (FileResult | undefined)[], files: readonly string[], readErrors: ReadonlyMap<number, string>, s: Summary, allReports: boolean): string {
  const anchor = (i: number) => `fichier-${i + 1}`;
  const rows = files.map((file, i) => {
    const r = results[i];
    const status = r?.status ?? 'not-read';
    const hasReport = r?.html !== undefined;
    return html`<tr><td class="num">${i + 1}</td><td class="file">${hasReport ? html`<a href="${`#${anchor(i)}`}">${file}</a>` : file}</td><td class="${`verdict-${status}`}">${VERDICT_FR[status]}</td><td>${r?.ig ?? ''}</td><td class="num">${r?.errors ?? ''}</td><td class="num">${r?.warnings ?? ''}</td></tr>`;
  });
  const ruleRows = s.byRule.map((c) => {
    const rule = findRule(c.rule)?.rule;
    return html`<tr><td><code>${c.rule}</code></td><td>${c.severity === 'error' ? 'Erreur' : 'Avertissement'}</td><td class="num">${c.count}</td><td class="num">${c.files}</td><td>${rule?.fr ?? rule?.summary ?? ''}</td></tr>`;
  });
  const reports = files.map((file, i) => {
    const r = results[i];
    if (r?.html === undefined) return '';
    return html`<section class="file-report" id="${anchor(i)}"><h2>${file} — ${VERDICT_FR[r.status]}</h2>
<p class="muted">${r.ig ? html`Validé selon ${r.ig}` : ''}${r.profiles.length ? html` — profil ${r.profiles.join(', ')}` : ''}${r.format === 'xml' ? ' — lu en XML' : ''}</p>
${raw(r.html)}</section>`;
  });
  const notRead = [...readErrors.entries()].map(([i, m]) => html`<li><code>${files[i]}</code> : ${m}</li>`);
  const fr = (n: number) => n.toLocaleString('fr-FR');
  return html`<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Rapport de validation TDDUI — ${plural(s.files, 'fichier', 'fichiers')}</title>
<link rel="icon" href="data:,">
<style>${raw(STYLE_CSS)}${raw(HTML_CSS)}</style>
</head>
<body>
<main>
<h1>Rapport de validation TDDUI</h1>
<p class="${s.failed ? 'error-box' : 'ok-box'}">${plural(s.files, 'fichier', 'fichiers')} : ${plural(s.valid, 'valide', 'valides')}, ${plural(s.invalid, 'invalide', 'invalides')}${s.unreadable ? `, dont ${plural(s.unreadable, 'illisible', 'illisibles')}` : ''}${s.notRead ? `, ${plural(s.notRead, 'non lu', 'non lus')}` : ''} — ${fr(s.failed)} en échec au seuil « ${s.failOn === 'error' ? 'erreur' : 'avertissement'} ».</p>
<table class="kv"><tbody>
<tr><th>Erreurs</th><td>${fr(s.errors)}</td></tr>
<tr><th>Avertissements sur les données</th><td>${fr(s.warnings)}</td></tr>
<tr><th>Durée</th><td>${(s.ms / 1000).toFixed(1).replace('.', ',')} s</td></tr>
</tbody></table>
${notRead.length ? html`<h2>Fichiers non lus</h2><ul>${notRead}</ul>` : ''}
${ruleRows.length ? html`<h2>Règles en cause</h2><div class="table-wrap"><table class="list"><thead><tr><th>Règle</th><th>Gravité</th><th class="num">Occurrences</th><th class="num">Fichiers</th><th>Message</th></tr></thead><tbody>${ruleRows}</tbody></table></div><p class="muted"><code>tddui rules ID</code> explique une règle et donne un exemple de correction.</p>` : ''}
<h2>Fichiers</h2>
<div class="table-wrap"><table class="list files"><thead><tr><th class="num">N°</th><th>Fichier</th><th>Verdict</th><th>Version TDDUI</th><th class="num">Erreurs</th><th class="num">Avertissements</th></tr></thead><tbody>${rows}</tbody></table></div>
${allReports ? '' : html`<p class="muted">Seuls les fichiers non valides ont leur rapport détaillé ici (plus de 50 fichiers) ; <code>--format json</code> donne tout.</p>`}
${reports}
</main>
</body>
</html>
`.value;
}

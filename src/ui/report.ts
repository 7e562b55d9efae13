// The validation report, as shown for a received submission and for a file checked on
// "Valider un fichier": the OperationOutcome's issues grouped by Bundle entry, then by the
// profile (or rule set) they come from, each with its location, rule id, French message and
// the offending excerpt of the submitted JSON.
import { findRule } from '../tddui/rule-index.js';
import { ruleHref } from './pages/rules.js';
import { html, type SafeHtml } from './html.js';
import { excerptFor, resolveExpression } from './excerpt.js';
import { isObj, str, arr, displayOf, type Json } from './fhir-util.js';
import { CATEGORY_SYSTEM, issueCategory, type IssueCategory } from '../fhir/outcome/issue.js';
import { foldNotices } from '../fhir/outcome/notices.js';
import { plural } from '../fhir/outcome/plural.js';

export type Severity = 'fatal' | 'error' | 'warning' | 'information';

export interface ReportIssue {
  severity: Severity;
  code: string;
  rule?: string;
  /** French message (`details.text`); empty when the issue has none (its English `diagnostics` are shown apart). */
  text: string;
  diagnostics?: string;
  expression?: string;
  source?: string;
  /** data, not-checked ("could not check" notice) or ig-defect (issue.details.coding, else from the rule id). */
  category: IssueCategory;
}

const RULE_SYSTEM = 'urn:tddui:validation-rule';
const EXT_SOURCE = 'http://hl7.org/fhir/StructureDefinition/operationoutcome-issue-source';
const EXT_MESSAGE_ID = 'http://hl7.org/fhir/StructureDefinition/operationoutcome-message-id';
const SEVERITIES: Severity[] = ['fatal', 'error', 'warning', 'information'];

export function issuesFromOutcome(oo: unknown): ReportIssue[] {
  if (!isObj(oo) || !Array.isArray(oo.issue)) return [];
  const out: ReportIssue[] = [];
  for (const i of arr(oo.issue)) {
    const severity = SEVERITIES.includes(i.severity as Severity) ? (i.severity as Severity) : 'error';
    const details = isObj(i.details) ? i.details : {};
    const ext = arr(i.extension);
    const rule =
      str(arr(details.coding).find((c) => c.system === RULE_SYSTEM)?.code) ??
      str(ext.find((e) => e.url === EXT_MESSAGE_ID)?.valueString) ??
      str(arr(details.coding)[0]?.code);
    const diagnostics = str(i.diagnostics);
    // French text only: an issue without one keeps its English diagnostics apart (issueRow).
    const text = str(details.text) ?? '';
    const expression = Array.isArray(i.expression) ? str(i.expression[0]) : Array.isArray(i.location) ? str(i.location[0]) : undefined;
    const source = str(ext.find((e) => e.url === EXT_SOURCE)?.valueString ?? ext.find((e) => e.url === EXT_SOURCE)?.valueUri);
    const coded = str(arr(details.coding).find((c) => c.system === CATEGORY_SYSTEM)?.code) as IssueCategory | undefined;
    const category: IssueCategory = coded ?? (rule ? issueCategory({ rule }) : 'data');
    out.push({ severity, code: str(i.code) ?? 'processing', rule, text, diagnostics, expression, source, category });
  }
  // "No issues detected" is the only issue of a clean outcome: nothing to list.
  if (out.length === 1 && out[0].severity === 'information' && out[0].code === 'informational' && !out[0].expression) return [];
  return out;
}

export interface Counts {
  errors: number;
  /** Warnings about the data. */
  warnings: number;
  information: number;
  /** "Could not check" notices and IG defects the data follow, apart from the data warnings. */
  notices: number;
}

/** A notice: what could not be checked, or an IG defect the data follow (not a finding about the data). */
function isNotice(i: ReportIssue): boolean {
  return i.category !== 'data' && i.severity !== 'error' && i.severity !== 'fatal';
}

export function countIssues(issues: readonly ReportIssue[]): Counts {
  const c: Counts = { errors: 0, warnings: 0, information: 0, notices: 0 };
  for (const i of issues) {
    if (i.severity === 'error' || i.severity === 'fatal') c.errors++;
    else if (isNotice(i)) c.notices++;
    else if (i.severity === 'warning') c.warnings++;
    else c.information++;
  }
  return c;
}

export interface ProfileGroup {
  /** Canonical URL, `tddui-business-rules`, or `` when unknown. */
  profile: string;
  label: string;
  issues: ReportIssue[];
}

export interface EntryGroup {
  /** Index in Bundle.entry, or undefined for the document itself. */
  entryIndex?: number;
  title: string;
  resourceType?: string;
  fullUrl?: string;
  declaredProfiles: string[];
  profiles: ProfileGroup[];
  counts: Counts;
}

function shortProfile(url: string): string {
  const m = /StructureDefinition\/([^|/]+)/.exec(url);
  return m ? m[1] : url;
}

function profileOf(issue: ReportIssue, declared: string[]): { profile: string; label: string } {
  const s = issue.source;
  if (s && /^https?:\/\//.test(s)) {
    if (s.startsWith('http://hl7.org/fhir/StructureDefinition/')) return { profile: s, label: `Spécification FHIR R4 (${shortProfile(s)})` };
    return { profile: s, label: `Profil ${shortProfile(s)}` };
  }
  if (s && s.startsWith('tddui-business-rules')) return { profile: 'tddui-business-rules', label: 'Règles métier TDDUI' };
  if (issue.rule?.startsWith('tddui-')) return { profile: 'tddui-business-rules', label: 'Règles métier TDDUI' };
  if (declared[0]) return { profile: declared[0], label: `Profil ${shortProfile(declared[0])}` };
  return { profile: '', label: 'Structure FHIR' };
}

/** Groups the issues by Bundle entry (document-level issues first), then by profile. */
export function groupIssues(issues: readonly ReportIssue[], doc: unknown): EntryGroup[] {
  const groups = new Map<string, EntryGroup>();
  const entries = isObj(doc) && doc.resourceType === 'Bundle' && Array.isArray(doc.entry) ? doc.entry : [];
  const order: string[] = [];
  for (const issue of issues) {
    const r = issue.expression ? resolveExpression(doc, issue.expression) : undefined;
    let idx = r?.entryIndex;
    if (idx === undefined && issue.expression) {
      const m = /^Bundle\.entry\[(\d+)\]/.exec(issue.expression);
      if (m) idx = Number(m[1]);
    }
    const key = idx === undefined ? 'doc' : `e${idx}`;
    let g = groups.get(key);
    if (!g) {
      const entry = idx !== undefined && isObj(entries[idx]) ? (entries[idx] as Json) : undefined;
      const res = entry && isObj(entry.resource) ? entry.resource : idx === undefined && isObj(doc) && doc.resourceType !== 'Bundle' ? doc : undefined;
      const declared = res && isObj(res.meta) && Array.isArray(res.meta.profile) ? res.meta.profile.filter((p): p is string => typeof p === 'string') : [];
      const type = str(res?.resourceType);
      let title: string;
      if (idx === undefined) title = isObj(doc) && doc.resourceType === 'Bundle' ? 'Bundle (ensemble de l’envoi)' : `${type ?? 'Document'}${res?.id ? ` ${String(res.id)}` : ''}`;
      else {
        const label = res ? displayOf(res) : '';
        title = `Entrée ${idx} — ${type ?? 'ressource absente'}${label && label !== `${type}/${String(res?.id)}` ? ` « ${label} »` : ''}`;
      }
      g = { entryIndex: idx, title, resourceType: type, fullUrl: str(entry?.fullUrl), declaredProfiles: declared, profiles: [], counts: { errors: 0, warnings: 0, information: 0, notices: 0 } };
      groups.set(key, g);
      order.push(key);
    }
    const p = profileOf(issue, g.declaredProfiles);
    let pg = g.profiles.find((x) => x.profile === p.profile);
    if (!pg) g.profiles.push((pg = { ...p, issues: [] }));
    pg.issues.push(issue);
  }
  const out = order.map((k) => groups.get(k)!);
  for (const g of out) g.counts = countIssues(g.profiles.flatMap((p) => p.issues));
  out.sort((a, b) => (a.entryIndex ?? -1) - (b.entryIndex ?? -1));
  return out;
}

const SEVERITY_FR: Record<Severity, string> = { fatal: 'Fatale', error: 'Erreur', warning: 'Avertissement', information: 'Information' };

export function severityBadge(s: Severity): SafeHtml {
  return html`<span class="${`sev sev-${s}`}">${SEVERITY_FR[s]}</span>`;
}

export function countsText(c: Counts): string {
  const part = plural;
  const base = `${part(c.errors, 'erreur', 'erreurs')}, ${part(c.warnings, 'avertissement', 'avertissements')}, ${part(c.information, 'information', 'informations')}`;
  return c.notices ? `${base} ; ${part(c.notices, 'vérification non faite ou défaut du guide', 'vérifications non faites ou défauts du guide')}` : base;
}

/**
 * The notices apart from the data findings: one line per missing package (or per rule), each
 * unfolding to every notice — nothing is dropped; then the IG defects the data follow.
 */
function renderNotices(notices: readonly ReportIssue[], doc: unknown): SafeHtml {
  if (notices.length === 0) return html``;
  const notChecked = notices.filter((i) => i.category === 'not-checked');
  const defects = notices.filter((i) => i.category === 'ig-defect');
  const folded = foldNotices(notChecked.map((i) => ({ severity: i.severity, code: 'not-supported', rule: i.rule ?? '', message: i.diagnostics ?? i.text, expression: i.expression ?? '' })));
  return html`<div class="card notices" id="notices">
${notChecked.length ? html`<h3>Vérifications non faites (${notChecked.length})</h3>
<p class="muted">Ce que le serveur n’a pas pu vérifier, faute d’un paquet ou d’une définition : ce ne sont pas des constats sur les données.</p>
<ul class="notice-lines">${folded.map((g) => {
  const items = notChecked.filter((i) => (i.diagnostics ?? i.text) && foldKey(i) === g.key);
  return html`<li><details><summary>${g.key !== g.first.rule ? html`Paquet <code>${g.key}</code> absent ou partiel` : g.first.message} — ${plural(g.count, 'vérification non faite', 'vérifications non faites')}</summary><ul class="issues">${items.map((i) => issueRow(i, doc))}</ul></details></li>`;
})}</ul>` : ''}
${defects.length ? html`<h3>Défauts du guide d’implémentation (${defects.length})</h3>
<p class="muted">Le guide se contredit à ces endroits et les données le suivent (docs/decisions.md).</p>
<ul class="issues">${defects.map((i) => issueRow(i, doc))}</ul>` : ''}
</div>`;
}

function foldKey(i: ReportIssue): string {
  return foldNotices([{ severity: i.severity, code: 'not-supported', rule: i.rule ?? '', message: i.diagnostics ?? i.text, expression: i.expression ?? '' }])[0].key;
}

function issueRow(issue: ReportIssue, doc: unknown): SafeHtml {
  const withExcerpt = issue.severity !== 'information';
  const ex = withExcerpt ? excerptFor(doc, issue.expression) : undefined;
  // A minimum-cardinality issue is reported on the parent: name the absent element.
  const card = issue.rule === 'fhir-cardinality-min' ? /^[A-Za-z]+((?:\.[A-Za-z0-9_[\]]+)+): minimum required = \d+, but only found 0\b/.exec(issue.diagnostics ?? '') : null;
  const missing = ex?.missing ?? card?.[1].slice(1);
  const excerpt = ex
    ? html`<details class="excerpt"${issue.severity === 'error' || issue.severity === 'fatal' ? html` open` : ''}>
<summary>Extrait du JSON soumis${missing ? html` — élément absent : <code>${missing}</code> dans <code>${ex.location}</code>` : html` — <code>${ex.location}</code>`}</summary>
${ex.fragment}</details>`
    : '';
  const en = issue.diagnostics && issue.diagnostics !== issue.text ? issue.diagnostics : undefined;
  return html`<li class="${`issue issue-${issue.severity}`}">
<div class="issue-head">${severityBadge(issue.severity)} <code class="expr">${issue.expression ?? '(sans emplacement)'}</code> ${issue.rule ? (findRule(issue.rule) ? html`<a class="rule" title="Identifiant de la règle : son explication" href="${ruleHref(issue.rule)}">${issue.rule}</a>` : html`<span class="rule" title="Identifiant de la règle">${issue.rule}</span>`) : ''}</div>
${
  issue.text
    ? html`<p class="msg"${en ? html` title="${en}"` : ''}>${issue.text}</p>`
    : en
      ? html`<details class="msg msg-en"><summary>Constat sans texte en français : voir le texte d’origine (en anglais)</summary><p lang="en">${en}</p></details>`
      : html`<p class="msg muted">(constat sans message)</p>`
}
${excerpt}</li>`;
}

/** The whole report (summary + groups). `doc` is the submitted document (Bundle or resource). */
export function renderReport(outcome: unknown, doc: unknown): SafeHtml {
  const all = issuesFromOutcome(outcome);
  const counts = countIssues(all);
  if (all.length === 0) return html`<p class="ok-box">Aucun problème détecté.</p>`;
  const notices = all.filter(isNotice);
  const issues = all.filter((i) => !isNotice(i));
  const groups = groupIssues(issues, doc);
  const withErrors = groups.filter((g) => g.counts.errors);
  return html`<p class="summary">${countsText(counts)} — ${plural(groups.length, 'ressource concernée', 'ressources concernées')}.</p>
${withErrors.length ? html`<p class="error-list">Erreurs dans : ${withErrors.map((g, i) => html`${i ? ', ' : ''}${g.entryIndex !== undefined ? html`<a href="${`#entree-${g.entryIndex}`}">${g.title}</a>` : g.title}`)}</p>` : ''}
${groups.map(
  // Entries with errors are open; the others are folded so that the errors stand out.
  (g) => html`<details class="${`group ${g.counts.errors ? 'has-errors' : g.counts.warnings ? 'has-warnings' : ''}`}"${g.counts.errors || groups.length === 1 ? html` open` : ''}${g.entryIndex !== undefined ? html` id="${`entree-${g.entryIndex}`}"` : ''}>
<summary><h3>${g.title} <span class="counts">${countsText(g.counts)}</span></h3></summary>
${g.fullUrl ? html`<p class="muted">fullUrl : <code>${g.fullUrl}</code></p>` : ''}
${g.profiles.map((p) => {
  // Errors first, then warnings, each in location order.
  const rank = (i: ReportIssue) => (i.severity === 'fatal' || i.severity === 'error' ? 0 : 1);
  const main = p.issues.filter((i) => i.severity !== 'information').sort((a, b) => rank(a) - rank(b));
  const info = p.issues.filter((i) => i.severity === 'information');
  return html`<div class="profile-group"><h4 title="${p.profile}">${p.label}</h4>
${main.length ? html`<ul class="issues">${main.map((i) => issueRow(i, doc))}</ul>` : ''}
${info.length ? html`<details class="infos"><summary>${plural(info.length, 'information', 'informations')}</summary><ul class="issues">${info.map((i) => issueRow(i, doc))}</ul></details>` : ''}
</div>`;
})}
</details>`,
)}
${renderNotices(notices, doc)}`;
}

// "Règles de validation": every rule id a report can carry (src/tddui/rule-index.ts), and one
// rule explained — its French message, where it comes from, an example of the fix — so that the
// ids shown by the quality page and the validation reports lead somewhere a receiver can send a
// vendor. The same content as `tddui rules ID`, in French; nothing stored is read.
import { findRule, allRules, type IndexedRule } from '../../tddui/rule-index.js';
import { fixFor } from '../../tddui/rule-fixes.js';
import { html, seg, type SafeHtml } from '../html.js';
import { page } from '../layout.js';
import { plural } from '../../fhir/outcome/plural.js';

const SEVERITY = { fatal: 'fatale', error: 'erreur', warning: 'avertissement', information: 'information' } as const;
const GROUP = { tddui: 'Règle TDDUI', fhir: 'Vérification FHIR' } as const;
const CATEGORY = {
  data: 'constat sur les données',
  'not-checked': 'vérification non faite (définition ou paquet manquant)',
  'ig-defect': 'défaut du guide que les données suivent',
} as const;

/** The link of a rule id: its explanation page. */
export function ruleHref(id: string): string {
  return `/regles/${seg(id)}`;
}

/** A rule id as a link to its page when the catalogue knows it, else plain code. */
export function ruleLink(id: string): SafeHtml {
  return findRule(id) ? html`<a class="rule" href="${ruleHref(id)}"><code>${id}</code></a>` : html`<code>${id}</code>`;
}

/** A message template with its {placeholders} set apart, as the report fills them per finding. */
function template(text: string): SafeHtml[] {
  return text.split(/(\{[A-Za-z0-9_]+\})/).map((part) => (/^\{[A-Za-z0-9_]+\}$/.test(part) ? html`<var>${part}</var>` : html`${part}`));
}

/** A reference (an IG page, a FHIR section): a link when it is an address. */
function source(r: IndexedRule): SafeHtml {
  const ref = r.rule.reference;
  if (!ref) return html`${r.group === 'fhir' ? 'Spécification FHIR R4 (hl7.org/fhir/R4)' : 'Règles métier du guide TDDUI'}`;
  if (/^https?:\/\/\S+$/.test(ref)) return html`<a href="${ref}" rel="noreferrer">${ref}</a>`;
  // The catalogue's references are identifiers (an IG section, a rule list) with, at times, an
  // English note in brackets for developers (`tddui rules` shows it): the page stays French.
  return html`${ref.replace(/\s*\([^)]*\)/g, '')}`;
}

export interface RulesQuery {
  q?: string;
}

export function rulesListPage(query: RulesQuery): string {
  const q = (query.q ?? '').trim().toLowerCase().slice(0, 100);
  const rules = allRules().filter((r) => !q || r.rule.id.includes(q) || (r.rule.fr ?? '').toLowerCase().includes(q));
  const body = html`<h1>Règles de validation</h1>
<p class="muted">Chaque constat d’un rapport de validation porte l’identifiant d’une règle : règles du guide TDDUI et vérifications du standard FHIR. Ouvrez une règle pour son explication et un exemple de correction (la même chose que <code>tddui rules ID</code> en ligne de commande).</p>
<form class="filters" method="get" action="/regles"><label>Rechercher <input type="search" name="q" value="${query.q ?? ''}" maxlength="100"></label><button type="submit">Filtrer</button></form>
<p class="muted" id="regles-total">${plural(rules.length, 'règle', 'règles')}</p>
<div class="table-wrap"><table class="list regles"><thead><tr><th>Règle</th><th>Nature</th><th>Gravité</th><th>Message</th></tr></thead><tbody>
${rules.map((r) => html`<tr data-rule="${r.rule.id}"><td>${ruleLink(r.rule.id)}</td><td>${GROUP[r.group]}</td><td>${SEVERITY[r.rule.severity]}</td><td>${r.rule.fr ? template(r.rule.fr) : '—'}</td></tr>`)}
</tbody></table></div>`;
  return page({ title: 'Règles de validation', section: 'qualite', body });
}

/** One rule explained, or undefined for an unknown id (with the nearest ids for the 404 page). */
export function rulePage(id: string): string | undefined {
  const r = findRule(id);
  if (!r) return undefined;
  const { rule } = r;
  const fix = fixFor(rule.id, rule.category);
  const body = html`<h1>Règle <code>${rule.id}</code></h1>
<dl class="rule-facts">
<dt>Nature</dt><dd>${GROUP[r.group]}</dd>
<dt>Gravité</dt><dd>${SEVERITY[rule.severity]}</dd>
<dt>Type FHIR du constat</dt><dd><code>${rule.code}</code></dd>
<dt>Catégorie</dt><dd>${CATEGORY[rule.category ?? 'data']}</dd>
<dt>Message</dt><dd id="regle-message">${rule.fr ? template(rule.fr) : '—'}</dd>
<dt>Source</dt><dd>${source(r)}</dd>
<dt>Exemple de correction</dt><dd id="regle-correction">${fix ? fix.fr : 'Pas encore d’exemple : voir la source.'}</dd>
</dl>
<p class="muted">Les parties en italique du message sont remplies pour chaque constat (élément, valeur, profil…).</p>
<p><a href="/regles">Toutes les règles</a> · <a href="/qualite">Qualité des envois</a></p>`;
  return page({ title: `Règle ${rule.id}`, section: 'qualite', crumbs: [['Règles de validation', '/regles']], body });
}

// "Qualité des envois" (issue 18): per organisation and sending software (the token's client),
// the submissions of a period, the rejection rate, the most frequent failing rules and the last
// rejected submission — comparable across organisations; the same as JSON (/qualite.json) and
// CSV (/qualite.csv, src/ui/exports.ts), with the page's filters.
import { html, seg } from '../html.js';
import { page } from '../layout.js';
import { isoDay, parisDayBoundary } from '../components.js';
import { frInstant } from '../fhir-util.js';
import { qualityBySender, type QualityFilter, type QualityRow } from '../../storage/quality.js';
import type { Queryable } from '../../storage/types.js';

export interface QualityQuery {
  du?: string;
  au?: string;
}

export function qualityFilterOf(query: QualityQuery): QualityFilter {
  const du = isoDay(query.du);
  const au = isoDay(query.au);
  return { ...(du ? { from: parisDayBoundary(du, 'start') } : {}), ...(au ? { to: parisDayBoundary(au, 'end') } : {}) };
}

export function qualityRows(db: Queryable, query: QualityQuery): Promise<QualityRow[]> {
  return qualityBySender(db, qualityFilterOf(query));
}

/** `0.125` -> `12,5 %`. */
export function percentFr(rate: number): string {
  return `${(rate * 100).toLocaleString('fr-FR', { maximumFractionDigits: 1 })} %`;
}

export async function qualityPage(db: Queryable, query: QualityQuery): Promise<string> {
  const du = isoDay(query.du);
  const au = isoDay(query.au);
  const rows = await qualityRows(db, query);
  const qs = new URLSearchParams({ ...(du ? { du } : {}), ...(au ? { au } : {}) }).toString();
  const suffix = qs ? `?${qs}` : '';
  const body = html`<h1>Qualité des envois</h1>
<p class="muted">Par organisation (FINESS) et par logiciel émetteur (le client du jeton) : envois reçus, taux de rejet, règles le plus souvent en échec dans les envois rejetés, dernier envoi rejeté.</p>
<form class="filters" method="get" action="/qualite" role="search">
<label>Du <input type="date" name="du" value="${du ?? ''}"></label>
<label>au <input type="date" name="au" value="${au ?? ''}"></label>
<button type="submit">Filtrer</button>
</form>
<p><a href="${`/qualite.csv${suffix}`}" id="qualite-csv">Exporter (CSV)</a> · <a href="${`/qualite.json${suffix}`}" id="qualite-json">JSON</a></p>
${
  rows.length === 0
    ? html`<p class="muted">Aucun envoi sur la période.</p>`
    : html`<table class="list" id="qualite"><thead><tr><th>Organisation</th><th>FINESS</th><th>Logiciel émetteur</th><th>Envois</th><th>Rejetés</th><th>Taux de rejet</th><th>Règles les plus fréquentes</th><th>Premier envoi</th><th>Dernier envoi</th><th>Dernier envoi rejeté</th></tr></thead><tbody>
${rows.map(
  (r) => html`<tr><td>${r.organisation ?? 'inconnue'}</td><td>${r.finess ?? ''}</td><td>${r.client ?? html`<span class="muted">non authentifié</span>`}</td><td class="num">${r.submissions}</td><td class="num">${r.rejected}</td><td class="num">${percentFr(r.rejectionRate)}</td>
<td>${r.topRules.length ? html`<ul class="rules">${r.topRules.map((x) => html`<li><code>${x.rule}</code> × ${x.count}</li>`)}</ul>` : ''}</td>
<td>${frInstant(r.first)}</td><td>${frInstant(r.last)}</td><td>${r.lastRejected ? html`<a href="${`/envois/${seg(r.lastRejected.id)}`}">${frInstant(r.lastRejected.receivedAt)}</a>` : ''}</td></tr>`,
)}
</tbody></table>`
}`;
  return page({ title: 'Qualité des envois', section: 'qualite', body });
}

// "Qualité des envois" (issue 18): per organisation and sending software (the token's client),
// the submissions of a period, the rejection rate, the most frequent failing rules and the last
// rejected submission — comparable across organisations; the same as JSON (/qualite.json) and
// CSV (/qualite.csv, src/ui/exports.ts), with the page's filters.
import { ruleLink } from './rules.js';
import { html, seg } from '../html.js';
import { page } from '../layout.js';
import { invertedDatesHint, isoDay, parisDayBoundary } from '../components.js';
import { barChart } from '../charts.js';
import { dayFromNumber, dayNumber, frDate, frDecimal1, frInstant } from '../fhir-util.js';
import { qualityBySender, qualityByWeek, type QualityFilter, type QualityRow, type QualityWeek } from '../../storage/quality.js';
import type { Queryable, ReadScope } from '../../storage/types.js';

export interface QualityQuery {
  du?: string;
  au?: string;
}

/** The filter of the page's query, within the reader's organisations (`scope`, src/storage/scope.ts). */
export function qualityFilterOf(query: QualityQuery, scope?: ReadScope): QualityFilter {
  const du = isoDay(query.du);
  const au = isoDay(query.au);
  return { ...(du ? { from: parisDayBoundary(du, 'start') } : {}), ...(au ? { to: parisDayBoundary(au, 'end') } : {}), ...(scope ? { scope } : {}) };
}

export function qualityRows(db: Queryable, query: QualityQuery, scope?: ReadScope): Promise<QualityRow[]> {
  return qualityBySender(db, qualityFilterOf(query, scope));
}

/** Every week from the first to the last of the series (weeks without a submission count 0), at most the last 104. */
export function weeksOf(series: QualityWeek[]): string[] {
  if (series.length === 0) return [];
  const first = dayNumber(series[0]!.week);
  const last = dayNumber(series[series.length - 1]!.week);
  const out: string[] = [];
  for (let d = Math.max(first, last - 7 * 103); d <= last; d += 7) out.push(dayFromNumber(d));
  return out;
}

/** `0.125` -> `12,5 %`. */
export function percentFr(rate: number): string {
  return `${frDecimal1(rate * 100)} %`;
}

export async function qualityPage(db: Queryable, query: QualityQuery, scope?: ReadScope): Promise<string> {
  const du = isoDay(query.du);
  const au = isoDay(query.au);
  const [rows, series] = await Promise.all([qualityRows(db, query, scope), qualityByWeek(db, qualityFilterOf(query, scope))]);
  // Submissions over time: per week, accepted and rejected (every organisation shown), and per organisation.
  const weeks = weeksOf(series);
  const sumWeek = (w: string, pick: (x: QualityWeek) => number) => series.filter((x) => x.week === w).reduce((n, x) => n + pick(x), 0);
  const rejectedPerWeek = weeks.map((w) => sumWeek(w, (x) => x.rejected));
  const acceptedPerWeek = weeks.map((w, i) => sumWeek(w, (x) => x.submissions) - rejectedPerWeek[i]!);
  const orgs = [...new Set(series.map((x) => x.finess ?? ''))];
  const names = new Map(rows.map((r) => [r.finess ?? '', r.organisation]));
  const qs = new URLSearchParams({ ...(du ? { du } : {}), ...(au ? { au } : {}) }).toString();
  const suffix = qs ? `?${qs}` : '';
  const body = html`<h1>Qualité des envois</h1>
<p class="muted">Par organisation (FINESS) et par logiciel émetteur (le client du jeton) : envois reçus, taux de rejet, règles le plus souvent en échec dans les envois rejetés, dernier envoi rejeté.</p>
<form class="filters" method="get" action="/qualite" role="search">
<label>Du <input type="date" name="du" value="${du ?? ''}"></label>
<label>au <input type="date" name="au" value="${au ?? ''}"></label>
<button type="submit">Filtrer</button>
</form>
${invertedDatesHint('/qualite', { du, au }, du, au, 'aucun envoi ne peut correspondre')}
<p><a href="${`/qualite.csv${suffix}`}" id="qualite-csv">Exporter (CSV)</a> · <a href="${`/qualite.json${suffix}`}" id="qualite-json">JSON</a></p>
${
  weeks.length
    ? html`<section class="card" id="qualite-evolution"><h2>Envois par semaine</h2>
<p class="muted">Semaines du ${frDate(weeks[0]!)} au ${frDate(dayFromNumber(dayNumber(weeks[weeks.length - 1]!) + 6))} (heure de Paris), envois acceptés et rejetés de toutes les organisations affichées.</p>
${barChart({
  title: 'Envois acceptés et rejetés par semaine',
  labels: weeks.map((w) => `${w.slice(8, 10)}/${w.slice(5, 7)}`),
  series: [
    { name: 'Acceptés', values: acceptedPerWeek, color: '#2e7d32' },
    { name: 'Rejetés', values: rejectedPerWeek, color: '#c62828' },
  ],
  height: 240,
  width: 640,
})}
<div class="table-wrap"><table class="list" id="qualite-semaines"><thead><tr><th>Organisation</th>${weeks.map((w) => html`<th class="num">${frDate(w)}</th>`)}</tr></thead><tbody>
${orgs.map(
  (f) => html`<tr data-finess="${f}"><td>${names.get(f) ?? (f ? `FINESS ${f}` : 'inconnue')}</td>${weeks.map((w) => {
    const x = series.find((y) => y.week === w && (y.finess ?? '') === f);
    return html`<td class="num" data-semaine="${w}">${x ? html`${x.submissions}${x.rejected ? html` <span class="muted">(${x.rejected} rejeté${x.rejected > 1 ? 's' : ''})</span>` : ''}` : '0'}</td>`;
  })}</tr>`,
)}
</tbody></table></div>
</section>`
    : ''
}
${
  rows.length === 0
    ? html`<p class="muted">Aucun envoi sur la période.</p>`
    : html`<table class="list" id="qualite"><thead><tr><th>Organisation</th><th>FINESS</th><th>Logiciel émetteur</th><th>Envois</th><th>Rejetés</th><th>Taux de rejet</th><th>Règles les plus fréquentes</th><th>Premier envoi</th><th>Dernier envoi</th><th>Dernier envoi rejeté</th></tr></thead><tbody>
${rows.map(
  (r) => html`<tr><td>${r.organisation ?? 'inconnue'}</td><td>${r.finess ?? ''}</td><td>${r.client ?? html`<span class="muted">non authentifié</span>`}</td><td class="num">${r.submissions}</td><td class="num">${r.rejected}</td><td class="num">${percentFr(r.rejectionRate)}</td>
<td>${r.topRules.length ? html`<ul class="rules">${r.topRules.map((x) => html`<li>${ruleLink(x.rule)} × ${x.count}</li>`)}</ul>` : ''}</td>
<td>${frInstant(r.first)}</td><td>${frInstant(r.last)}</td><td>${r.lastRejected ? html`<a href="${`/envois/${seg(r.lastRejected.id)}`}">${frInstant(r.lastRejected.receivedAt)}</a>` : ''}</td></tr>`,
)}
</tbody></table>`
}`;
  return page({ title: 'Qualité des envois', section: 'qualite', body });
}

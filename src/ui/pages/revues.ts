// "Revues à prévoir": the projets personnalisés due for their yearly review (validated more than
// N months ago, 12 by default; coordination/ppa-reviews.ts), per ESSMS, as of a day.
import { href, html, seg } from '../html.js';
import { page } from '../layout.js';
import { isoDay, parisToday } from '../components.js';
import { frDate } from '../fhir-util.js';
import { dueReviews, type DueReview } from '../../coordination/ppa-reviews.js';
import type { ReadScope, Repository } from '../../storage/types.js';
import { inScope } from '../../storage/scope.js';

export interface RevuesQuery {
  date?: string;
  organisation?: string;
}

/** The due reviews as of a Paris day (its noon), read where the request's reads go. */
export async function reviewsAsOf(repo: Repository, day: string, months: number): Promise<DueReview[]> {
  return dueReviews(repo, { now: new Date(`${day}T12:00:00Z`), months, db: await repo.reader() });
}

export async function revuesPage(repo: Repository, query: RevuesQuery, months: number, scope?: ReadScope): Promise<string> {
  const day = isoDay(query.date) ?? parisToday();
  // A token restricted to some organisations: their ESSMS only.
  const all = (await reviewsAsOf(repo, day, months)).filter((r) => inScope(scope, r.finess));
  const finess = query.organisation && /^\d{9,10}$/.test(query.organisation) ? query.organisation : undefined;
  const shown = finess ? all.filter((r) => r.finess === finess) : all;
  const groups = new Map<string, DueReview[]>();
  for (const r of shown) groups.set(r.finess ?? '', [...(groups.get(r.finess ?? '') ?? []), r]);
  const body = html`<h1>Revues à prévoir</h1>
<p class="muted">Projets personnalisés dont la dernière validation (accord de l’usager) date de plus de ${months} mois au ${frDate(day)} : la révision annuelle est à prévoir (recommandation HAS, Cadre d’urbanisation 2024, 1.1.7).</p>
<form class="filters" method="get" action="/revues"><label>Situation au <input type="date" name="date" value="${day}"></label>${finess ? html`<input type="hidden" name="organisation" value="${finess}">` : ''}<button type="submit">Afficher</button></form>
${shown.length === 0
  ? html`<p class="muted" id="aucune-revue">Aucune revue à prévoir.</p>`
  : [...groups.entries()].map(([f, rows]) => html`<section class="card revues-essms" data-finess="${f}"><h2>${f ? `ESSMS FINESS ${f}` : 'ESSMS non identifié'} <span class="muted">(${rows.length})</span></h2>
<div class="table-wrap"><table class="list revues"><thead><tr><th>Usager</th><th>Projet</th><th>Validé le</th><th>Révision due le</th><th class="num">Retard (jours)</th></tr></thead><tbody>
${rows.map((r) => html`<tr data-careplan="${r.carePlan}"><td><a href="${`/usagers/${seg(r.patient.split('/').pop() ?? '')}`}">${r.patientName ?? r.patient}</a></td><td><a href="${`/usagers/${seg(r.patient.split('/').pop() ?? '')}/projet/versions`}">${r.title ?? 'Projet personnalisé'}</a></td><td>${frDate(r.validatedOn.slice(0, 10))}</td><td>${frDate(r.dueOn)}</td><td class="num">${String(r.daysLate)}</td></tr>`)}
</tbody></table></div></section>`)}
<p><a href="${href('/pilotage', { date: day, organisation: finess })}">Pilotage</a></p>`;
  return page({ title: 'Revues à prévoir', section: 'pilotage', body });
}

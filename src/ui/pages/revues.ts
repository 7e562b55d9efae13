// "Revues à prévoir": the projets personnalisés due for their yearly review (validated more than
// N months ago, 12 by default; coordination/ppa-reviews.ts), as of a day: how many per ESSMS,
// then the list, most late first, one page at a time (an index range of ppa_validation, D-300).
import { href, html, seg } from '../html.js';
import { page } from '../layout.js';
import { beyondLastPage, isoDay, pageNumber, pager, parisToday, plural } from '../components.js';
import { frDate, frNumber } from '../fhir-util.js';
import { dueReviewCounts, dueReviewPage, dueReviews, type DueReview } from '../../coordination/ppa-reviews.js';
import type { ReadScope, Repository } from '../../storage/types.js';
import { inScope } from '../../storage/scope.js';

export interface RevuesQuery {
  date?: string;
  organisation?: string;
  page?: string;
}

/** Reviews listed per page. */
export const REVUES_PAGE_SIZE = 50;

/** The due reviews as of a Paris day (its noon), read where the request's reads go. */
export async function reviewsAsOf(repo: Repository, day: string, months: number): Promise<DueReview[]> {
  return dueReviews(repo, { now: new Date(`${day}T12:00:00Z`), months, db: await repo.derivedReader() });
}

export async function revuesPage(repo: Repository, query: RevuesQuery, months: number, scope?: ReadScope): Promise<string> {
  const day = isoDay(query.date) ?? parisToday();
  const finess = query.organisation && /^\d{9,10}$/.test(query.organisation) ? query.organisation : undefined;
  const pageNo = pageNumber(query.page);
  const db = await repo.derivedReader();
  // A token restricted to some organisations: their ESSMS only.
  const counts = [...(await dueReviewCounts(db, day, months))].filter(([f]) => inScope(scope, f)).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const all = counts.reduce((n, [, c]) => n + c, 0);
  // The counts per ESSMS give the total (the same rows: the scope's rule is one, storage/scope.ts).
  const known = finess ? (counts.find(([f]) => f === finess)?.[1] ?? 0) : all;
  const { total, items } = await dueReviewPage(db, { today: day, months, finess, scope, limit: REVUES_PAGE_SIZE, offset: (pageNo - 1) * REVUES_PAGE_SIZE, total: known });
  const current = { date: query.date ? day : undefined, organisation: finess };
  const essms = (f: string | undefined) => (f ? `ESSMS FINESS ${f}` : 'ESSMS non identifié');
  const body = html`<h1>Revues à prévoir</h1>
<p class="muted">Projets personnalisés dont la dernière validation (accord de l’usager) date de plus de ${months} mois au ${frDate(day)} : la révision annuelle est à prévoir (recommandation HAS, Cadre d’urbanisation 2024, 1.1.7).</p>
<form class="filters" method="get" action="/revues"><label>Situation au <input type="date" name="date" value="${day}"></label>${finess ? html`<input type="hidden" name="organisation" value="${finess}">` : ''}<button type="submit">Afficher</button></form>
${
  all === 0
    ? html`<p class="muted" id="aucune-revue">Aucune revue à prévoir.</p>`
    : html`<section class="card" id="revues-par-essms"><h2>Par ESSMS <span class="muted">(${plural(all, 'projet à réviser', 'projets à réviser')})</span></h2>
<div class="table-wrap"><table class="list"><thead><tr><th>ESSMS</th><th class="num">Revues à prévoir</th></tr></thead><tbody>
${counts.map(([f, n]) => html`<tr data-finess="${f}"${finess !== undefined && f === finess ? html` class="selected"` : ''}><td>${f && f !== finess ? html`<a href="${href('/revues', { date: current.date, organisation: f })}">${essms(f)}</a>` : essms(f || undefined)}</td><td class="num">${frNumber(n)}</td></tr>`)}
</tbody></table></div>
${finess ? html`<p><a href="${href('/revues', { date: current.date })}">Tous les ESSMS</a></p>` : ''}</section>
<section class="card" id="revues-liste"><h2>${finess ? `${essms(finess)} : ` : ''}les plus en retard d’abord</h2>
${
  items.length === 0
    ? total === 0
      ? html`<p class="muted" id="aucune-revue-essms">Aucune revue à prévoir pour cet ESSMS.</p>`
      : beyondLastPage('/revues', current, pageNo, total, ['revue à prévoir', 'revues à prévoir'], REVUES_PAGE_SIZE)
    : html`<div class="table-wrap"><table class="list revues"><thead><tr><th>Usager</th><th>ESSMS</th><th>Projet</th><th>Validé le</th><th>Révision due le</th><th class="num">Retard (jours)</th></tr></thead><tbody>
${items.map((r) => html`<tr data-careplan="${r.carePlan}" data-finess="${r.finess ?? ''}"><td><a href="${`/usagers/${seg(r.patient.split('/').pop() ?? '')}`}">${r.patientName ?? r.patient}</a></td><td>${r.finess ?? '—'}</td><td><a href="${`/usagers/${seg(r.patient.split('/').pop() ?? '')}/projet/versions`}">${r.title ?? 'Projet personnalisé'}</a></td><td>${frDate(r.validatedOn.slice(0, 10))}</td><td>${frDate(r.dueOn)}</td><td class="num">${String(r.daysLate)}</td></tr>`)}
</tbody></table></div>
${pager('/revues', current, pageNo, total, REVUES_PAGE_SIZE)}`
}</section>`
}
<p><a href="${href('/pilotage', { date: day, organisation: finess })}">Pilotage</a></p>`;
  return page({ title: 'Revues à prévoir', section: 'pilotage', body });
}

// "Pilotage": indicators over the stored data of every kind of structure (SSIAD, EHPAD, IME…) —
// usagers and active usagers, GIR distribution, events and transports per week, per
// organisation — with SVG charts. One reference day (`date`, default today) drives every
// indicator that has a date: the usagers active that day, the latest AGGIR evaluation on or
// before it (GIR chart, usagers evaluated), and the `semaines` weeks ending with its week.
import { dueReviewCounts } from '../../coordination/ppa-reviews.js';
import { html, href } from '../html.js';
import { page } from '../layout.js';
import { isoDay, parisToday, q } from '../components.js';
import { barChart } from '../charts.js';
import { dayFromNumber, dayNumber, frDate, frNumber, mondayOf } from '../fhir-util.js';
import { listOrganisations, pilotageFigures, readAggregates, type ActivityRow, type Organisation, type PilotageFigures } from '../../storage/indicators.js';
import type { ReadScope, Repository } from '../../storage/types.js';
import { inScope } from '../../storage/scope.js';
import { plural } from '../../fhir/outcome/plural.js';

/** Everything the page needs, per organisation; filters are applied afterwards, in memory. */
interface Aggregates extends PilotageFigures {
  orgs: Organisation[];
  /** Milliseconds spent reading them. */
  ms: number;
}

/**
 * The figures of `today`, read from the counts kept from every write (migration 0161, D-212;
 * refreshed after the writes and drained before this read, D-356): no computation over the
 * stored resources, on the first view as on the others.
 */
export async function aggregates(repo: Repository, today: string): Promise<Aggregates> {
  const t0 = performance.now();
  const value = await readAggregates(await repo.derivedReader(), async (db) => ({ orgs: await listOrganisations(db), ...(await pilotageFigures(db, today)) }));
  return { ...value, ms: performance.now() - t0 };
}

/** The page's query: an organisation, the reference day, the number of weeks. */
export interface PilotageQuery {
  organisation?: string;
  date?: string;
  semaines?: string;
}

/**
 * The figures of the page for a query, within the reader's organisations (`scope`,
 * src/storage/scope.ts): the page and its CSV exports (src/ui/exports.ts) show the same ones.
 */
export async function pilotageView(repo: Repository, query: PilotageQuery, reviewMonths = 12, scope?: ReadScope) {
  const finess = q(query.organisation);
  const today = isoDay(query.date) ?? parisToday();
  const weeks = Math.min(52, Math.max(4, Number.parseInt(query.semaines ?? '', 10) || 12));
  const all = await aggregates(repo, today);
  // The figures are read for every organisation; a restricted token sees its own rows only.
  const a = scope ? { ...all, orgs: all.orgs.filter((o) => inScope(scope, o.finess)), usagers: all.usagers.filter((r) => inScope(scope, r.finess)), gir: all.gir.filter((r) => inScope(scope, r.finess)), activity: all.activity.filter((r) => inScope(scope, r.finess)), evaluations: new Map([...all.evaluations].filter(([f]) => inScope(scope, f))) } : all;
  const mine = <T extends { finess: string }>(rows: T[]) => (finess ? rows.filter((r) => r.finess === finess) : rows);
  const activity = mine(a.activity);
  const latestWeek = activity.reduce<string | undefined>((m, r) => (!m || r.week > m ? r.week : m), undefined);
  const endMonday = mondayOf(today);
  const startMonday = dayFromNumber(dayNumber(endMonday) - 7 * (weeks - 1));
  const inRange = (w: string) => w >= startMonday && w <= endMonday;
  const counts = mine(a.usagers).reduce((s, r) => ({ usagers: s.usagers + r.usagers, active: s.active + r.active }), { usagers: 0, active: 0 });
  const girCounts = [0, 0, 0, 0, 0, 0];
  let girUnknown = 0;
  for (const r of mine(a.gir)) {
    if (r.gir) girCounts[r.gir - 1] += r.usagers;
    else girUnknown += r.usagers;
  }
  const evaluated = girCounts.reduce((x, y) => x + y, 0) + girUnknown;
  const weekList = Array.from({ length: weeks }, (_, i) => dayFromNumber(dayNumber(startMonday) + 7 * i));
  const perWeek = (kind: ActivityRow['kind']) => weekList.map((w) => activity.filter((r) => r.week === w && r.kind === kind).reduce((s, r) => s + r.n, 0));
  const events = perWeek('evt');
  const trUsager = perWeek('usager');
  const trPro = perWeek('pro');
  const names = new Map(a.orgs.filter((o) => o.name).map((o) => [o.finess, o.name!]));
  const orgRows = [...new Set([...a.usagers.map((r) => r.finess), ...a.activity.map((r) => r.finess)])]
    .filter(Boolean)
    .map((f) => {
      const u = a.usagers.find((r) => r.finess === f);
      const act = a.activity.filter((r) => r.finess === f && inRange(r.week));
      return {
        finess: f,
        name: names.get(f),
        usagers: u?.usagers ?? 0,
        active: u?.active ?? 0,
        events: act.filter((r) => r.kind === 'evt').reduce((s, r) => s + r.n, 0),
        transports: act.filter((r) => r.kind !== 'evt').reduce((s, r) => s + r.n, 0),
        evaluations: a.evaluations.get(f) ?? 0,
      };
    })
    .sort((x, y) => y.usagers - x.usagers || x.finess.localeCompare(y.finess));
  // PPAs due for their yearly review as of that day (coordination/ppa-reviews.ts).
  // Counted per ESSMS from the validation dates kept from every write (migration 0180, D-254; D-356).
  const overdue = [...(await dueReviewCounts(await repo.derivedReader(), today, reviewMonths))]
    .filter(([f]) => inScope(scope, f || undefined) && (!finess || f === finess))
    .reduce((s, [, n]) => s + n, 0);
  return { a, finess, today, weeks, latestWeek, endMonday, startMonday, counts, girCounts, girUnknown, evaluated, weekList, events, trUsager, trPro, names, orgRows, overdue };
}

export async function pilotagePage(repo: Repository, query: PilotageQuery, reviewMonths = 12, scope?: ReadScope): Promise<string> {
  const { a, finess, today, weeks, latestWeek, endMonday, startMonday, counts, girCounts, girUnknown, evaluated, weekList, events, trUsager, trPro, names, orgRows, overdue } = await pilotageView(repo, query, reviewMonths, scope);
  const sum = (xs: number[]) => xs.reduce((x, y) => x + y, 0);
  const n = frNumber;
  const orgName = finess ? names.get(finess) : undefined;
  const emptyWindow = sum(events) + sum(trUsager) + sum(trPro) === 0;
  const csv = (tableau: string) => href('/pilotage.csv', { tableau, organisation: finess, date: query.date, semaines: query.semaines });
  const body = html`<h1>Pilotage${finess ? html` — ${orgName ?? `FINESS ${finess}`}` : ''}</h1>
<form class="filters" method="get" action="/pilotage">
<label>Organisation
<select name="organisation"><option value="">Toutes</option>
${a.orgs.map((o) => html`<option value="${o.finess}"${o.finess === finess ? html` selected` : ''}>${o.name ? `${o.name} (${o.finess})` : o.finess}</option>`)}
</select></label>
<label>Situation au <input type="date" name="date" value="${today}"></label>
<label>Nombre de semaines <input type="text" name="semaines" value="${weeks}" inputmode="numeric" size="3"></label>
<button type="submit">Afficher</button> <a class="button secondary" href="/pilotage">Réinitialiser</a>
</form>
${query.date && !isoDay(query.date) ? html`<p class="warn-box" id="date-invalide">Date non reconnue : « ${query.date} » (format attendu : AAAA-MM-JJ) ; situation au ${frDate(today)}.</p>` : ''}
<p class="muted" id="periode">Situation au ${frDate(today)} ; activité des ${weeks} semaines du ${frDate(startMonday)} au ${frDate(dayFromNumber(dayNumber(endMonday) + 6))}.</p>
<div class="stats" id="indicateurs">
<div class="stat"><div class="v" id="usagers-total">${n(counts.usagers)}</div><div class="l">${counts.usagers < 2 ? 'usager enregistré' : 'usagers enregistrés'}<br>(toutes dates)</div></div>
<div class="stat"><div class="v" id="actifs">${n(counts.active)}</div><div class="l">${counts.active < 2 ? 'usager actif' : 'usagers actifs'} au ${frDate(today)}<br>(séjour en cours)</div></div>
<div class="stat"><div class="v" id="evalues">${n(evaluated)}</div><div class="l">${evaluated < 2 ? 'usager évalué' : 'usagers évalués'} (AGGIR)<br>au ${frDate(today)}</div></div>
<div class="stat"><div class="v" id="evenements">${n(sum(events))}</div><div class="l">${sum(events) < 2 ? 'évènement' : 'évènements'} sur ${weeks} semaines</div></div>
<div class="stat"><div class="v" id="transports">${n(sum(trUsager) + sum(trPro))}</div><div class="l">${sum(trUsager) + sum(trPro) < 2 ? 'transport' : 'transports'} sur ${weeks} semaines</div></div>
<div class="stat"><div class="v" id="revues-en-retard"><a href="${href('/revues', { date: today, organisation: finess })}">${n(overdue)}</a></div><div class="l">${overdue < 2 ? 'projet personnalisé' : 'projets personnalisés'}<br>à réviser (${overdue < 2 ? 'validé' : 'validés'} il y a plus de ${reviewMonths} mois)</div></div>
</div>
${
  emptyWindow && latestWeek && latestWeek < startMonday
    ? html`<p class="warn-box" id="sans-activite">Aucun évènement ni transport sur ces ${weeks} semaines. Les dernières données datent de la semaine du ${frDate(latestWeek)} : <a href="${href('/pilotage', { organisation: finess, date: dayFromNumber(dayNumber(latestWeek) + 6), semaines: query.semaines })}">afficher la situation à cette date</a>.</p>`
    : emptyWindow && latestWeek && latestWeek > endMonday
      ? html`<p class="warn-box" id="sans-activite">Aucun évènement ni transport sur ces ${weeks} semaines ; des données existent après le ${frDate(dayFromNumber(dayNumber(endMonday) + 6))} : <a href="${href('/pilotage', { organisation: finess, date: dayFromNumber(dayNumber(latestWeek) + 6), semaines: query.semaines })}">afficher la situation à la date des dernières données (semaine du ${frDate(latestWeek)})</a>.</p>`
      : ''
}
<div class="grid2">
<section class="card" id="gir-chart"><h2>Répartition par GIR</h2>
<p class="muted">GIR de la dernière évaluation AGGIR (PA ou PH) de chaque usager au ${frDate(today)}.${girUnknown ? ` ${plural(girUnknown, 'évaluation', 'évaluations')} sans GIR reconnu.` : ''}</p>
${barChart({ title: 'Usagers par GIR', labels: ['GIR 1', 'GIR 2', 'GIR 3', 'GIR 4', 'GIR 5', 'GIR 6'], series: [{ name: 'Usagers', values: girCounts, color: '#16324f' }], height: 240, width: 520 })}
</section>
<section class="card" id="activite-chart"><h2>Évènements et transports par semaine</h2>
<p class="muted">Semaines du ${frDate(startMonday)} au ${frDate(dayFromNumber(dayNumber(endMonday) + 6))}, selon la date de début.</p>
${barChart({
  title: 'Évènements et transports par semaine',
  labels: weekList.map((w) => `${w.slice(8, 10)}/${w.slice(5, 7)}`),
  series: [
    { name: 'Évènements', values: events, color: '#3b7dd8' },
    { name: 'Transports usager', values: trUsager, color: '#e08a1e' },
    { name: 'Transports professionnel', values: trPro, color: '#8e5bd0' },
  ],
  height: 260,
  width: 620,
})}
</section>
</div>
<p id="pilotage-csv">Exporter (CSV) : <a href="${csv('organisations')}">par organisation</a> · <a href="${csv('semaines')}">par semaine</a> · <a href="${csv('gir')}">par GIR</a></p>
<section id="par-organisation"><h2>Par organisation</h2>
${
  orgRows.length
    ? html`<div class="table-wrap"><table class="list cards"><thead><tr><th>Organisation</th><th>FINESS</th><th class="num">Usagers</th><th class="num">Actifs au ${frDate(today)}</th><th class="num">Évènements</th><th class="num">Transports</th><th class="num">Évaluations</th></tr></thead><tbody>
${orgRows.map((o) => html`<tr${o.finess === finess ? html` class="selected"` : ''}><td data-label="Organisation"><a href="${href('/pilotage', { organisation: o.finess, date: query.date, semaines: query.semaines })}">${o.name ?? 'inconnue'}</a></td><td data-label="FINESS"><code>${o.finess}</code></td><td data-label="Usagers" class="num">${n(o.usagers)}</td><td data-label="Actifs au ${frDate(today)}" class="num">${n(o.active)}</td><td data-label="Évènements" class="num">${n(o.events)}</td><td data-label="Transports" class="num">${n(o.transports)}</td><td data-label="Évaluations" class="num">${n(o.evaluations)}</td></tr>`)}
</tbody></table></div>
<p class="muted">Évènements et transports des semaines affichées ; évaluations faites au plus tard le ${frDate(today)}. L’organisation d’un objet est celle de son identifiant métier (« 3 » + FINESS + « / »…).</p>`
    : html`<p class="muted">Aucune donnée.</p>`
}
</section>
<p class="muted" id="fraicheur">Indicateurs à jour : tenus à chaque envoi reçu (lus en ${Math.max(1, Math.round(a.ms))} ms).</p>`;
  return page({ title: 'Pilotage', section: 'pilotage', body });
}

// "Pilotage SSIAD": indicators over the stored data — usagers and active usagers, GIR
// distribution, events and transports per week, per organisation — with SVG charts.
import { html, href } from '../html.js';
import { page } from '../layout.js';
import { isoDay, parisToday, q } from '../components.js';
import { barChart } from '../charts.js';
import { dayFromNumber, dayNumber, frDate, mondayOf } from '../fhir-util.js';
import {
  dataStamp,
  readAggregates,
  girDistribution,
  latestActivityWeek,
  listOrganisations,
  perOrganisation,
  usagerCounts,
  weeklyActivity,
} from '../../storage/indicators.js';
import type { Repository } from '../../storage/types.js';
import type { Queryable } from '../../storage/types.js';

interface Indicators {
  endMonday: string;
  startMonday: string;
  orgs: Awaited<ReturnType<typeof listOrganisations>>;
  counts: Awaited<ReturnType<typeof usagerCounts>>;
  gir: Awaited<ReturnType<typeof girDistribution>>;
  activity: Awaited<ReturnType<typeof weeklyActivity>>;
  perOrg: Awaited<ReturnType<typeof perOrganisation>>;
  /** Milliseconds spent computing (0 when served from the cache). */
  ms: number;
}

/**
 * Results per (filters, data stamp): the aggregates read every stored event and transport,
 * about a second or more on the embedded database with 10,000 usagers, so they are computed
 * once per change of the data and per set of filters.
 */
const caches = new WeakMap<Repository, Map<string, Indicators>>();
const CACHE_ENTRIES = 50;

async function compute(db: Queryable, finess: string | undefined, today: string, weeks: number, fin: string | undefined): Promise<Omit<Indicators, 'ms'>> {
  const f = { finess };
  const endMonday = fin ? mondayOf(fin) : ((await latestActivityWeek(db, f)) ?? mondayOf(today));
  const startMonday = dayFromNumber(dayNumber(endMonday) - 7 * (weeks - 1));
  const orgs = await listOrganisations(db);
  const counts = await usagerCounts(db, today, f);
  const gir = await girDistribution(db, f);
  const activity = await weeklyActivity(db, startMonday, endMonday, f);
  const perOrg = await perOrganisation(db, today, startMonday, endMonday);
  return { endMonday, startMonday, orgs, counts, gir, activity, perOrg };
}

export async function indicators(repo: Repository, finess: string | undefined, today: string, weeks: number, fin: string | undefined): Promise<Indicators> {
  const stamp = await dataStamp(repo.db);
  const key = JSON.stringify([stamp, finess, today, weeks, fin]);
  let cache = caches.get(repo);
  if (!cache) caches.set(repo, (cache = new Map()));
  const hit = cache.get(key);
  if (hit) return { ...hit, ms: 0 };
  const t0 = performance.now();
  const value = { ...(await readAggregates(repo.db, (db) => compute(db, finess, today, weeks, fin))), ms: 0 };
  const ms = performance.now() - t0;
  // Entries of older data are dropped; beyond the limit, the oldest entry goes.
  for (const k of [...cache.keys()]) if (!k.startsWith(JSON.stringify([stamp]).slice(0, -1))) cache.delete(k);
  if (cache.size >= CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
  cache.set(key, value);
  return { ...value, ms };
}

export async function pilotagePage(repo: Repository, query: { organisation?: string; date?: string; semaines?: string; fin?: string }): Promise<string> {
  const finess = q(query.organisation);
  const today = isoDay(query.date) ?? parisToday();
  const weeks = Math.min(52, Math.max(4, Number.parseInt(query.semaines ?? '', 10) || 12));
  const { endMonday, startMonday, orgs, counts, gir, activity, perOrg, ms } = await indicators(repo, finess, today, weeks, isoDay(query.fin));
  const weekList = Array.from({ length: weeks }, (_, i) => dayFromNumber(dayNumber(startMonday) + 7 * i));
  const byWeek = new Map(activity.map((w) => [w.week, w]));
  const totalEvents = activity.reduce((s, w) => s + w.events, 0);
  const totalTransports = activity.reduce((s, w) => s + w.transportsUsager + w.transportsPro, 0);
  const orgName = finess ? orgs.find((o) => o.finess === finess)?.name : undefined;
  const body = html`<h1>Pilotage SSIAD${finess ? html` — ${orgName ?? `FINESS ${finess}`}` : ''}</h1>
<form class="filters" method="get" action="/pilotage">
<label>Organisation
<select name="organisation"><option value="">Toutes</option>
${orgs.map((o) => html`<option value="${o.finess}"${o.finess === finess ? html` selected` : ''}>${o.name ? `${o.name} (${o.finess})` : o.finess}</option>`)}
</select></label>
<label>Usagers actifs au <input type="date" name="date" value="${today}"></label>
<label>Dernière semaine <input type="date" name="fin" value="${endMonday}"></label>
<label>Nombre de semaines <input type="text" name="semaines" value="${weeks}" inputmode="numeric" size="3"></label>
<button type="submit">Afficher</button> <a class="button secondary" href="/pilotage">Réinitialiser</a>
</form>
<div class="stats" id="indicateurs">
<div class="stat"><div class="v">${counts.usagers.toLocaleString('fr-FR')}</div><div class="l">usagers enregistrés</div></div>
<div class="stat"><div class="v" id="actifs">${counts.active.toLocaleString('fr-FR')}</div><div class="l">usagers actifs au ${frDate(today)}<br>(séjour en cours)</div></div>
<div class="stat"><div class="v">${gir.evaluated.toLocaleString('fr-FR')}</div><div class="l">usagers évalués (AGGIR)</div></div>
<div class="stat"><div class="v">${totalEvents.toLocaleString('fr-FR')}</div><div class="l">évènements sur ${weeks} semaines</div></div>
<div class="stat"><div class="v">${totalTransports.toLocaleString('fr-FR')}</div><div class="l">transports sur ${weeks} semaines</div></div>
</div>
<div class="grid2">
<section class="card" id="gir-chart"><h2>Répartition par GIR</h2>
<p class="muted">GIR de la dernière évaluation AGGIR (PA ou PH) de chaque usager.${gir.unknown ? ` ${gir.unknown} évaluation(s) sans GIR reconnu.` : ''}</p>
${barChart({ title: 'Usagers par GIR', labels: ['GIR 1', 'GIR 2', 'GIR 3', 'GIR 4', 'GIR 5', 'GIR 6'], series: [{ name: 'Usagers', values: gir.counts, color: '#16324f' }], height: 240, width: 520 })}
</section>
<section class="card" id="activite-chart"><h2>Évènements et transports par semaine</h2>
<p class="muted">Semaines du ${frDate(startMonday)} au ${frDate(dayFromNumber(dayNumber(endMonday) + 6))}, selon la date de début.</p>
${barChart({
  title: 'Évènements et transports par semaine',
  labels: weekList.map((w) => `${w.slice(8, 10)}/${w.slice(5, 7)}`),
  series: [
    { name: 'Évènements', values: weekList.map((w) => byWeek.get(w)?.events ?? 0), color: '#3b7dd8' },
    { name: 'Transports usager', values: weekList.map((w) => byWeek.get(w)?.transportsUsager ?? 0), color: '#e08a1e' },
    { name: 'Transports professionnel', values: weekList.map((w) => byWeek.get(w)?.transportsPro ?? 0), color: '#8e5bd0' },
  ],
  height: 260,
  width: 620,
})}
</section>
</div>
<section id="par-organisation"><h2>Par organisation</h2>
${
  perOrg.length
    ? html`<table class="list"><thead><tr><th>Organisation</th><th>FINESS</th><th class="num">Usagers</th><th class="num">Actifs au ${frDate(today)}</th><th class="num">Évènements</th><th class="num">Transports</th><th class="num">Évaluations</th></tr></thead><tbody>
${perOrg.map((o) => html`<tr><td><a href="${href('/pilotage', { organisation: o.finess, date: query.date, semaines: query.semaines, fin: query.fin })}">${o.name ?? 'inconnue'}</a></td><td><code>${o.finess}</code></td><td class="num">${o.usagers.toLocaleString('fr-FR')}</td><td class="num">${o.active.toLocaleString('fr-FR')}</td><td class="num">${o.events.toLocaleString('fr-FR')}</td><td class="num">${o.transports.toLocaleString('fr-FR')}</td><td class="num">${o.evaluations.toLocaleString('fr-FR')}</td></tr>`)}
</tbody></table>
<p class="muted">Évènements et transports sur la période affichée. L’organisation d’un objet est celle de son identifiant métier (« 3 » + FINESS + « / »…).</p>`
    : html`<p class="muted">Aucune donnée.</p>`
}
</section>
<p class="muted">${ms ? `Indicateurs calculés en ${Math.round(ms)} ms.` : 'Indicateurs à jour (aucune donnée reçue depuis le dernier calcul).'}</p>`;
  return page({ title: 'Pilotage SSIAD', section: 'pilotage', body });
}

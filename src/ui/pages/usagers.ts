// "Usagers": the stored Patients, searched by name or identifier, filtered by organisation,
// sorted on any column, paged server-side. Each usager is named by the usage name, with the
// birth name beside it when it differs (the sort order uses the same name).
import { html, href, seg } from '../html.js';
import { page } from '../layout.js';
import { PAGE_SIZE, beyondLastPage, pageNumber, pager, q, sortHeader, sortOrder } from '../components.js';
import { SYS, arr, frCompare, frDate, frInstant, identifierValue, insStatus, patientNames, type Json } from '../fhir-util.js';
import type { ReadScope, Repository, SearchParam } from '../../storage/types.js';
import { inScope } from '../../storage/scope.js';
import { organisationNames, readAggregates } from '../../storage/indicators.js';
import { USAGER_SORTS, listUsagers, usagerOrganisations, type UsagerSort } from '../../storage/usager-list.js';

const GENDER: Record<string, string> = { male: 'Homme', female: 'Femme', other: 'Autre', unknown: 'Inconnu' };

export function genderFr(g: unknown): string {
  return typeof g === 'string' ? (GENDER[g] ?? g) : '';
}

/**
 * Turns the search box into FHIR search parameters: a value with a digit or a slash is an
 * identifier (local id `3480787529/…`, INS, exact match on any system); words are name parts
 * (each must prefix some part of a name: AND across words).
 */
export function usagerSearchParams(text: string | undefined): SearchParam[] {
  if (!text) return [];
  if (/[\d/]/.test(text)) return [{ name: 'identifier', values: [text.replace(/\s+/g, '')] }];
  return text
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 4)
    .map((w) => ({ name: 'name', values: [w] }));
}

/** The sort choices of the form (the column headers sort too; on a phone they are hidden). */
const SORT_CHOICES: [string, string][] = [
  ['', 'nom (A → Z)'],
  ['-nom', 'nom (Z → A)'],
  ['organisation', 'organisation (A → Z)'],
  ['-organisation', 'organisation (Z → A)'],
  ['naissance', 'naissance (plus ancienne d’abord)'],
  ['-naissance', 'naissance (plus récente d’abord)'],
  ['sexe', 'sexe'],
  ['identifiant', 'identifiant local'],
  ['-maj', 'mise à jour (plus récente d’abord)'],
  ['maj', 'mise à jour (plus ancienne d’abord)'],
];

export interface UsagersQuery {
  q?: string;
  organisation?: string;
  tri?: string;
  page?: string;
}

/** FINESS of the organisation of a usager: the local identifier is `3` + FINESS + `/…`. */
export function usagerFiness(p: Json): string | undefined {
  const m = /^3([^/]+)\//.exec(identifierValue(p, SYS.localUsager) ?? '');
  return m ? m[1] : undefined;
}

export async function usagersPage(repo: Repository, query: UsagersQuery, scope?: ReadScope): Promise<string> {
  const text = q(query.q);
  const finess = q(query.organisation);
  const pageNo = pageNumber(query.page);
  const sort = sortOrder(query.tri, USAGER_SORTS, 'nom');
  const search = usagerSearchParams(text);
  // The derived tables (usager_sort, the counts) from one copy where they are current (D-356).
  const derived = await repo.derivedReader();
  const [finessList, names] = await Promise.all([usagerOrganisations(derived).then((l) => l.filter((f) => inScope(scope, f))), organisationNames(await repo.reader())]);
  const orgs = finessList.map((f) => ({ finess: f, name: names.get(f) })).sort((a, b) => frCompare(a.name ?? '~' + a.finess, b.name ?? '~' + b.finess));
  const result = await readAggregates(derived, (db) =>
    listUsagers(db, {
      words: search.filter((s) => s.name === 'name').map((s) => s.values[0]),
      identifier: search.find((s) => s.name === 'identifier')?.values[0],
      finess,
      sort: sort.key,
      descending: sort.descending,
      organisationNames: names,
      // A token restricted to some organisations: their usagers only (total included).
      ...(scope ? { scope } : {}),
      count: PAGE_SIZE,
      offset: (pageNo - 1) * PAGE_SIZE,
    }),
  );
  const total = result.total;
  const found = result.ids.length ? (await repo.search({ resourceType: 'Patient', params: [{ name: '_id', values: result.ids }], count: PAGE_SIZE, offset: 0, total: 'none' })).matches : [];
  const byId = new Map(found.map((m) => [m.id, m.resource as Json]));
  const rows = result.ids.map((id) => byId.get(id)).filter((r): r is Json => !!r);
  const current = { q: text, organisation: finess, tri: sort.key === 'nom' && !sort.descending ? undefined : `${sort.descending ? '-' : ''}${sort.key}` };
  const th = (label: string, key: UsagerSort) => sortHeader('/usagers', current, label, key, sort, 'nom');
  const orgLabel = (f: string | undefined) => (f ? (names.get(f) ?? `FINESS ${f}`) : undefined);
  const body = html`<h1>Usagers</h1>
<form class="filters" method="get" action="/usagers" role="search">
<label>Nom, prénom ou identifiant <input type="search" name="q" value="${text ?? ''}" placeholder="ex. Dupont, 3480787529/194704032, INS…"></label>
<label>Organisation
<select name="organisation"><option value="">Toutes</option>
${orgs.map((o) => html`<option value="${o.finess}"${o.finess === finess ? html` selected` : ''}>${o.name ? `${o.name} (${o.finess})` : o.finess}</option>`)}
${finess && !orgs.some((o) => o.finess === finess) ? html`<option value="${finess}" selected>${finess}</option>` : ''}
</select></label>
<label>Trier par
<select name="tri">${(SORT_CHOICES.some(([v]) => v === (current.tri ?? '')) ? SORT_CHOICES : [...SORT_CHOICES, [current.tri!, `${current.tri!.replace('-', '')} (ordre décroissant)`] as [string, string]]).map(([value, label]) => html`<option value="${value}"${value === (current.tri ?? '') ? html` selected` : ''}>${label}</option>`)}</select></label>
<button type="submit">Rechercher</button>${text || finess ? html` <a class="button secondary" href="/usagers">Effacer</a>` : ''}
<a class="button secondary" id="export-csv" href="${href('/usagers.csv', current)}" download>Exporter en CSV</a>
</form>
${
  rows.length === 0
    ? total > 0
      ? beyondLastPage('/usagers', current, pageNo, total, ['usager', 'usagers'])
      : html`<p class="muted">${text || finess ? 'Aucun usager ne correspond à cette recherche.' : 'Aucun usager enregistré.'}</p>`
    : html`<div class="table-wrap"><table class="list cards" id="usagers">
<thead><tr>${th('Nom', 'nom')}${th('Organisation', 'organisation')}${th('Sexe', 'sexe')}${th('Naissance', 'naissance')}${th('Identifiant local', 'identifiant')}<th>INS</th>${th('Mis à jour', 'maj')}</tr></thead>
<tbody>
${rows.map((p) => {
  const ins = insStatus(p);
  const n = patientNames(p);
  const f = usagerFiness(p);
  return html`<tr>
<td data-label="Nom"><a href="${`/usagers/${seg(String(p.id))}`}">${n.shown}</a>${n.birth ? html` <span class="muted birth-name">(${n.birth})</span>` : ''}</td>
<td data-label="Organisation">${orgLabel(f) ?? html`<span class="muted">inconnue</span>`}</td>
<td data-label="Sexe">${genderFr(p.gender)}</td>
<td data-label="Naissance">${frDate(p.birthDate)}</td>
<td data-label="Identifiant local"><code>${identifierValue(p, SYS.localUsager) ?? ''}</code></td>
<td data-label="INS">${ins.ins ? html`<span class="badge ok" title="${ins.ins.kind} ${ins.ins.value}">${ins.reliabilityLabel ?? ins.ins.kind}</span>` : html`<span class="badge neutral">sans INS</span>`}</td>
<td data-label="Mis à jour">${frInstant(isObjMeta(p))}</td>
</tr>`;
})}
</tbody></table></div>
${pager('/usagers', current, pageNo, total)}`
}`;
  return page({ title: 'Usagers', section: 'usagers', body });
}

function isObjMeta(p: Json): string | undefined {
  const m = arr(p.meta)[0];
  return typeof m?.lastUpdated === 'string' ? m.lastUpdated : undefined;
}

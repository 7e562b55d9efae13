// "Usagers": the stored Patients, searched by name or identifier, paged server-side.
import { html, seg } from '../html.js';
import { page } from '../layout.js';
import { PAGE_SIZE, pageNumber, pager, q } from '../components.js';
import { SYS, arr, frDate, frInstant, identifierValue, insStatus, personName, usualName, type Json } from '../fhir-util.js';
import type { Repository, SearchParam } from '../../storage/types.js';
import { listUsagerIds, readAggregates } from '../../storage/indicators.js';

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

export async function usagersPage(repo: Repository, query: { q?: string; page?: string }): Promise<string> {
  const text = q(query.q);
  const pageNo = pageNumber(query.page);
  const search = usagerSearchParams(text);
  const result = await readAggregates(repo.db, (db) =>
    listUsagerIds(db, {
      words: search.filter((s) => s.name === 'name').map((s) => s.values[0]),
      identifier: search.find((s) => s.name === 'identifier')?.values[0],
      count: PAGE_SIZE,
      offset: (pageNo - 1) * PAGE_SIZE,
    }),
  );
  const total = result.total;
  const found = result.ids.length ? (await repo.search({ resourceType: 'Patient', params: [{ name: '_id', values: result.ids }], count: PAGE_SIZE, offset: 0, total: 'none' })).matches : [];
  const byId = new Map(found.map((m) => [m.id, m.resource as Json]));
  const rows = result.ids.map((id) => byId.get(id)).filter((r): r is Json => !!r);
  const body = html`<h1>Usagers</h1>
<form class="filters" method="get" action="/usagers" role="search">
<label>Nom, prénom ou identifiant <input type="search" name="q" value="${text ?? ''}" placeholder="ex. Dupont, 3480787529/194704032, INS…" autofocus></label>
<button type="submit">Rechercher</button>${text ? html` <a class="button secondary" href="/usagers">Effacer</a>` : ''}
</form>
${
  rows.length === 0
    ? html`<p class="muted">${text ? 'Aucun usager ne correspond à cette recherche.' : 'Aucun usager enregistré.'}</p>`
    : html`<table class="list" id="usagers">
<thead><tr><th>Nom</th><th>Nom d’usage</th><th>Sexe</th><th>Naissance</th><th>Identifiant local</th><th>INS</th><th>Mis à jour</th></tr></thead>
<tbody>
${rows.map((p) => {
  const ins = insStatus(p);
  return html`<tr>
<td><a href="${`/usagers/${seg(String(p.id))}`}">${personName(p)}</a></td>
<td>${usualName(p) ?? ''}</td>
<td>${genderFr(p.gender)}</td>
<td>${frDate(p.birthDate)}</td>
<td><code>${identifierValue(p, SYS.localUsager) ?? ''}</code></td>
<td>${ins.ins ? html`<span class="badge ok" title="${ins.ins.kind} ${ins.ins.value}">${ins.reliabilityLabel ?? ins.ins.kind}</span>` : html`<span class="badge neutral">sans INS</span>`}</td>
<td>${frInstant(isObjMeta(p))}</td>
</tr>`;
})}
</tbody></table>
${pager('/usagers', { q: text }, pageNo, total)}`
}`;
  return page({ title: 'Usagers', section: 'usagers', body });
}

function isObjMeta(p: Json): string | undefined {
  const m = arr(p.meta)[0];
  return typeof m?.lastUpdated === 'string' ? m.lastUpdated : undefined;
}

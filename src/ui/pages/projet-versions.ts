// "Versions du projet personnalisé": the usager's PPA versions (every resend or enrichment that
// changed it) and the readable French diff between two of them (ui/ppa-versions.ts).
import { html, seg, type SafeHtml } from '../html.js';
import { page } from '../layout.js';
import { conceptLabel, type LabelSource } from '../labels.js';
import { frDate, frInstant, frStatus, keyOf, patientNames, type Json } from '../fhir-util.js';
import { diffVersions, groupChanges, loadPpaHistory, stateAt, type PpaChange, type PpaHistory } from '../ppa-versions.js';
import { buildPpTrees } from '../pp-tree.js';
import { ppaPdf } from '../ppa-pdf.js';
import { loadUsager } from './usager.js';
import type { Repository } from '../../storage/types.js';

export interface VersionsQuery {
  de?: string;
  a?: string;
}

/** The usager's PPA history, with the actors named (for the diff's wording). */
export async function usagerPpa(repo: Repository, id: string): Promise<{ history: PpaHistory; actors: Map<string, Json>; patient: Json; documents: Json[] } | undefined> {
  const d = await loadUsager(repo, id);
  if (!d) return undefined;
  const actors = new Map(d.actors);
  actors.set(keyOf(d.patient), d.patient);
  return { history: await loadPpaHistory(repo, d.ppResources), actors, patient: d.patient, documents: d.documents };
}

/**
 * The PDF of version `n` of the usager's PPA (its first plan at that version), and a file name;
 * undefined when the usager or the version does not exist.
 */
export async function ppaPdfOf(repo: Repository, labels: LabelSource | undefined, id: string, n: number): Promise<{ bytes: Buffer; fileName: string } | undefined> {
  const found = await usagerPpa(repo, id);
  const version = found?.history.versions.find((v) => v.number === n);
  if (!found || !version) return undefined;
  const state = stateAt(found.history.records, version.instant);
  const forest = buildPpTrees([...state, ...found.documents], { actors: found.actors, concept: (cc) => conceptLabel(labels, cc) });
  const tree = forest.trees[0];
  if (!tree) return undefined;
  const org = [...found.actors.values()].find((a) => a.resourceType === 'Organization');
  const bytes = await ppaPdf({ patient: found.patient, tree, version, ...(org && typeof org.name === 'string' ? { structure: org.name } : {}) });
  return { bytes, fileName: `projet-personnalise-${id.replace(/[^A-Za-z0-9-]/g, '')}-v${n}.pdf` };
}

/** `de` / `a` as version numbers; default: the last two. */
export function chosenVersions(h: PpaHistory, q: VersionsQuery): { from: number; to: number } | undefined {
  const n = h.versions.length;
  if (n < 2) return undefined;
  const num = (v: string | undefined) => (v !== undefined && /^\d{1,6}$/.test(v) && Number(v) >= 1 && Number(v) <= n ? Number(v) : undefined);
  const to = num(q.a) ?? n;
  const from = num(q.de) ?? Math.max(1, to - 1);
  return { from, to };
}

const BADGE: Record<PpaChange['change'], string> = {
  ajout: 'ajout',
  retrait: 'retrait',
  cloture: 'clôture',
  reformulation: 'reformulation',
  statut: 'statut',
  modification: 'modification',
};

function changeItem(c: PpaChange): SafeHtml {
  return html`<li class="${`ppa-change change-${c.change}`}" data-change="${c.change}" data-element="${c.element}"><span class="${`badge change-${c.change}`}">${BADGE[c.change]}</span> ${c.text}</li>`;
}

export async function projetVersionsPage(repo: Repository, labels: LabelSource | undefined, id: string, q: VersionsQuery): Promise<string | undefined> {
  const found = await usagerPpa(repo, id);
  if (!found) return undefined;
  const { history: h, actors, patient } = found;
  const names = patientNames(patient);
  const choice = chosenVersions(h, q);
  const changes = choice ? diffVersions(h, choice.from, choice.to, { actors, concept: (cc) => conceptLabel(labels, cc) }) : [];
  const options = (selected: number) => h.versions.map((v) => html`<option value="${String(v.number)}"${v.number === selected ? html` selected` : ''}>${`Version ${v.number} — ${frInstant(v.instant)}`}</option>`);
  const body = html`<h1>Versions du projet personnalisé <span class="muted">— ${names.shown}</span></h1>
<section class="card" id="versions"><h2>Versions (${h.versions.length})</h2>
${h.versions.length === 0
  ? html`<p class="muted">Aucun projet personnalisé enregistré.</p>`
  : html`<p class="muted">Chaque envoi ou enrichissement qui modifie le projet (objectifs, besoins, actions, moyens, prestations, bilans, accords) en fait une nouvelle version ; un renvoi identique n’en crée pas.</p>
<div class="table-wrap"><table class="list ppa-versions"><thead><tr><th>Version</th><th>Enregistrée le</th><th>Projet</th><th>Validée</th><th class="num">Éléments modifiés</th><th>Document</th></tr></thead><tbody>
${[...h.versions].reverse().map((v) => html`<tr data-version="${String(v.number)}"><td>${String(v.number)}${v.number === h.versions.length ? ' (actuelle)' : ''}</td><td>${frInstant(v.instant)}</td><td>${v.plans.map((p) => `${p.title ?? 'Projet personnalisé'}${p.status ? ` (${frStatus(p.status)})` : ''}`).join(' ; ')}</td><td>${v.validated ? `oui, accord du ${frDate(v.validatedOn)}` : 'non'}</td><td class="num">${String(v.changed.length)}</td><td><a class="ppa-pdf" href="${`/usagers/${seg(id)}/projet/versions/${v.number}/pdf`}">PDF</a></td></tr>`)}
</tbody></table></div>`}
</section>
${choice
  ? html`<section class="card" id="differences"><h2>Différences entre la version ${String(choice.from)} et la version ${String(choice.to)}</h2>
<form method="get" class="filters" action="${`/usagers/${seg(id)}/projet/versions`}"><label>De <select name="de">${options(choice.from)}</select></label> <label>à <select name="a">${options(choice.to)}</select></label> <button type="submit">Comparer</button></form>
${changes.length === 0
  ? html`<p class="muted ppa-no-change">Aucune différence de contenu entre ces deux versions.</p>`
  : groupChanges(changes).map((g) => html`<h3>${g.section}</h3><ul class="ppa-diff">${g.changes.map(changeItem)}</ul>`)}
</section>`
  : ''}`;
  return page({ title: `Versions du projet — ${names.shown}`, section: 'usagers', body, crumbs: [['Usagers', '/usagers'], [names.shown, `/usagers/${seg(id)}`]] });
}

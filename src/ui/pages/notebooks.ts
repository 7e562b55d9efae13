// "Mes cahiers de liaison" (issue 14): a professional's (or a related person's) own view — the
// usagers whose circle of care they belong to, whether each usager authorised them, and the
// notes of each notebook they may read, as the circle rule of the FHIR API decides it
// (src/coordination/circle-access.ts: active participant + the usager's Consent, J110 labels).
// A person's token sees only their own view (the UI's hook forces it); a DUI user (open
// server or system token) chooses the person whose view to see.
import { CircleAccess, refKey } from '../../coordination/circle-access.js';
import { nameOf } from '../../coordination/proposals.js';
import { isObject, type FhirResource } from '../../fhir/json.js';
import type { Repository, SearchParam } from '../../storage/types.js';
import { html, type SafeHtml } from '../html.js';
import { page } from '../layout.js';
import { CDL_NOTE } from './coordination.js';
import { plural } from '../../fhir/outcome/plural.js';

type Json = Record<string, unknown>;

const EMERGENCY = 'https://interop.esante.gouv.fr/ig/fhir/cdl/StructureDefinition/cdl-ext-is-emergency';
const PERSON = /^(Practitioner|PractitionerRole|RelatedPerson)\/[A-Za-z0-9\-.]{1,64}$/;

async function all(repo: Repository, type: string, params: SearchParam[]): Promise<Json[]> {
  const r = await repo.search({ resourceType: type, params, count: 1000, offset: 0, total: 'none' });
  return r.matches.map((m) => m.resource as Json);
}

async function read(repo: Repository, key: string | undefined): Promise<Json | undefined> {
  const [type, id] = (key ?? '').split('/');
  if (!type || !id) return undefined;
  return repo.read(type, id).then((r) => r.resource as Json, () => undefined);
}

/** A person named for people: a PractitionerRole by its practitioner. */
async function personName(repo: Repository, key: string): Promise<string> {
  const r = await read(repo, key);
  if (r?.resourceType === 'PractitionerRole') return nameOf(await read(repo, refKey(r.practitioner))) ?? key;
  return nameOf(r) ?? key;
}

const frDate = (v: unknown) => (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}/.test(v) ? `${v.slice(8, 10)}/${v.slice(5, 7)}/${v.slice(0, 4)}` : '');

function noteText(d: Json): string {
  return (Array.isArray(d.content) ? d.content : [])
    .map((c) => (isObject(c) && isObject(c.attachment) && typeof c.attachment.data === 'string' && String(c.attachment.contentType ?? '').startsWith('text/') && !c.attachment.title ? Buffer.from(c.attachment.data, 'base64').toString('utf8') : ''))
    .filter(Boolean)
    .join('\n');
}

function typeText(d: Json): string {
  const c = isObject(d.type) && Array.isArray(d.type.coding) && isObject(d.type.coding[0]) ? d.type.coding[0] : undefined;
  return isObject(c) ? String(c.display ?? c.code ?? 'Note') : 'Note';
}

/**
 * The page. `person`: whose view (`Practitioner/…`, `PractitionerRole/…`, `RelatedPerson/…`);
 * `chosen`: false when the token imposes it (no chooser shown).
 */
export async function notebooksPage(repo: Repository, person: string | undefined, opts: { choose: boolean; now?: Date }): Promise<string> {
  const access = new CircleAccess(repo, () => opts.now ?? new Date());
  // The persons of every circle, for the chooser.
  const teams = await all(repo, 'CareTeam', [{ name: 'status', values: ['active'] }]);
  const people = new Set<string>();
  for (const t of teams) for (const p of Array.isArray(t.participant) ? t.participant : []) {
    const k = isObject(p) ? refKey(p.member) : undefined;
    if (k && PERSON.test(k)) people.add(k);
  }
  const names = new Map<string, string>();
  for (const k of people) names.set(k, await personName(repo, k));
  const chooser = opts.choose
    ? html`<form method="get" action="/mes-cahiers" class="filters"><label>Voir les cahiers de liaison accessibles à <select name="personne"><option value="">—</option>${[...people].sort((a, b) => (names.get(a) ?? a).localeCompare(names.get(b) ?? b, 'fr')).map((k) => html`<option value="${k}"${person === k ? html` selected` : ''}>${names.get(k) ?? k}</option>`)}</select></label><button type="submit">Afficher</button></form>`
    : '';
  let body: SafeHtml | string = '';
  if (person && !PERSON.test(person)) body = html`<p class="error-box">Personne invalide : ${person}</p>`;
  else if (person) {
    const refs = await access.actorRefs(person);
    const mine = await all(repo, 'CareTeam', [{ name: 'participant', values: refs }]);
    const usagers = [...new Set(mine.map((t) => refKey(t.subject)).filter((p): p is string => !!p?.startsWith('Patient/')))];
    const cards: SafeHtml[] = [];
    for (const u of usagers) {
      const patient = await read(repo, u);
      const who = nameOf(patient) ?? u;
      const refusal = await access.refusal(person, u, 'DocumentReference');
      if (refusal) {
        cards.push(html`<section class="card notebook notebook-closed" data-usager="${u}"><h2>${who}</h2><p class="muted">Cahier de liaison non accessible : ${refusal.fr}</p></section>`);
        continue;
      }
      const notes: Json[] = [];
      for (const d of await all(repo, 'DocumentReference', [{ name: 'patient', values: [u] }])) {
        const profiles = isObject(d.meta) && Array.isArray(d.meta.profile) ? d.meta.profile : [];
        if (!profiles.some((p) => typeof p === 'string' && p.startsWith(CDL_NOTE))) continue;
        if (await access.readRefusal({ subject: person, fhirUser: person }, d as FhirResource)) continue;
        notes.push(d);
      }
      const parentOf = (d: Json) => {
        for (const r of Array.isArray(d.relatesTo) ? d.relatesTo : []) if (isObject(r) && r.code === 'appends') return refKey(r.target);
        return undefined;
      };
      const byDate = (a: Json, b: Json) => String(b.date ?? '').localeCompare(String(a.date ?? ''));
      const roots = notes.filter((d) => !parentOf(d) || !notes.some((n) => `DocumentReference/${String(n.id)}` === parentOf(d))).sort(byDate);
      const authors = new Map<string, string>();
      for (const d of notes) {
        const a = refKey(Array.isArray(d.author) ? d.author[0] : undefined);
        if (a && !authors.has(a)) authors.set(a, await personName(repo, a));
      }
      const noteHtml = (d: Json): SafeHtml => {
        const urgent = (Array.isArray(d.extension) ? d.extension : []).some((e) => isObject(e) && e.url === EMERGENCY && e.valueBoolean === true);
        const withdrawn = d.status === 'entered-in-error';
        const author = refKey(Array.isArray(d.author) ? d.author[0] : undefined) ?? '';
        const files = (Array.isArray(d.content) ? d.content : []).filter((c) => isObject(c) && isObject(c.attachment) && typeof c.attachment.title === 'string').length;
        const replies = notes.filter((x) => parentOf(x) === `DocumentReference/${String(d.id)}`).sort((a, b) => -byDate(a, b));
        return html`<article class="${`note${urgent ? ' note-urgent' : ''}${withdrawn ? ' note-withdrawn' : ''}`}">
<p class="note-head">${urgent ? html`<span class="badge-urgent">Urgent</span> ` : ''}<strong>${typeText(d)}</strong> — ${authors.get(author) ?? author} — ${frDate(d.date)}${withdrawn ? html` <span class="muted">(retirée)</span>` : ''}${files ? html` <span class="muted">(${plural(files, 'pièce jointe', 'pièces jointes')})</span>` : ''}</p>
<p class="note-text">${noteText(d)}</p>${replies.length ? html`<div class="replies">${replies.map(noteHtml)}</div>` : ''}</article>`;
      };
      cards.push(html`<section class="card notebook" data-usager="${u}"><h2>${who}</h2><p class="muted">${plural(notes.length, 'note visible', 'notes visibles')}</p>${roots.length ? roots.map(noteHtml) : html`<p class="muted">Aucune note.</p>`}</section>`);
    }
    body = html`<h2 class="sub">${names.get(person) ?? (await personName(repo, person))}</h2>${cards.length ? cards : html`<p class="muted">Cette personne n’est membre d’aucun cercle de santé et d’accompagnement.</p>`}`;
  }
  return page({
    title: 'Mes cahiers de liaison',
    section: 'cahiers',
    body: html`<h1>Mes cahiers de liaison</h1><p class="muted">Les cahiers de liaison des usagers dont la personne est membre actif du cercle, avec l’autorisation de l’usager (recommandation 1.1.11 du cadre d’urbanisation).</p>${chooser}${body}`,
  });
}

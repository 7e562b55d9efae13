// "Coordination" of a usager (issue 14): the Cercle de santé et d'accompagnement (CDS CareTeam:
// members with role, structure and period; proposals from the DUI's data to accept; leave and
// return) and the Cahier de liaison (CdL notes as threads, newest first, emergency notes
// highlighted, filters by type and author; write, reply, withdraw). Every write goes through the
// server's FHIR interactions (validated against the volets' profiles, nothing half-stored).
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { circleProposals, nameOf, type Proposal } from '../../coordination/proposals.js';
import { isObject, type FhirResource } from '../../fhir/json.js';
import { FhirError } from '../../fhir/outcome/http-errors.js';
import type { Repository, SearchParam } from '../../storage/types.js';
import { html, type SafeHtml } from '../html.js';
import { page } from '../layout.js';

type Json = Record<string, unknown>;

export const CDS_CARETEAM = 'https://interop.esante.gouv.fr/ig/fhir/cds/StructureDefinition/cds-ihe-careteam';
export const CDL_NOTE = 'https://interop.esante.gouv.fr/ig/fhir/cdl/StructureDefinition/cdl-document-reference';
const EMERGENCY = 'https://interop.esante.gouv.fr/ig/fhir/cdl/StructureDefinition/cdl-ext-is-emergency';
const NOTE_TYPE_SYSTEM = 'https://mos.esante.gouv.fr/NOS/TRE_R234-TypeNote/FHIR/TRE-R234-TypeNote';
/** Note types offered when writing (CdL's JDV J23); others already used are offered too. */
const NOTE_TYPES: [string, string][] = [['DEM-AVIS', 'Demande d’avis']];

/** The write interactions the page uses (the server's FhirService, given by the server). */
export interface CoordinationWriter {
  create(type: string, resource: FhirResource): Promise<{ record?: { resource: FhirResource } }>;
  update(type: string, target: { id: string }, resource: FhirResource): Promise<unknown>;
}

async function all(repo: Repository, type: string, params: SearchParam[]): Promise<Json[]> {
  const r = await repo.search({ resourceType: type, params, count: 1000, offset: 0, total: 'none' });
  return r.matches.map((m) => m.resource as Json);
}

async function read(repo: Repository, key: string | undefined): Promise<Json | undefined> {
  const [type, id] = (key ?? '').split('/');
  if (!type || !id) return undefined;
  return repo.read(type, id).then((r) => r.resource as Json, () => undefined);
}

const refOf = (r: unknown): string | undefined => (isObject(r) && typeof r.reference === 'string' ? r.reference : undefined);

function codeText(cc: unknown): string | undefined {
  const c = Array.isArray(cc) ? cc[0] : cc;
  if (!isObject(c)) return undefined;
  if (typeof c.text === 'string') return c.text;
  const coding = Array.isArray(c.coding) ? c.coding.find(isObject) : undefined;
  return isObject(coding) ? String(coding.display ?? coding.code ?? '') || undefined : undefined;
}

const frDay = (v: unknown) => (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}/.test(v) ? `${v.slice(8, 10)}/${v.slice(5, 7)}/${v.slice(0, 4)}` : '');

/** A person or structure, named for people (a PractitionerRole by its practitioner, with its structure). */
async function describe(repo: Repository, key: string | undefined): Promise<{ name: string; structure?: string }> {
  const r = await read(repo, key);
  if (!r) return { name: key ?? '' };
  if (r.resourceType === 'PractitionerRole') {
    const p = await read(repo, refOf(r.practitioner));
    const org = await read(repo, refOf(r.organization));
    return { name: nameOf(p) ?? key!, ...(nameOf(org) ? { structure: nameOf(org)! } : {}) };
  }
  if (r.resourceType === 'Organization') return { name: nameOf(r) ?? key!, structure: nameOf(r) ?? key! };
  return { name: nameOf(r) ?? key! };
}

export interface CoordinationQuery {
  type?: string;
  auteur?: string;
  message?: string;
}

/** The usager's active circle (the first active CareTeam), if any. */
export async function circleOf(repo: Repository, patientId: string): Promise<Json | undefined> {
  const teams = await all(repo, 'CareTeam', [{ name: 'patient', values: [`Patient/${patientId}`] }]);
  return teams.find((t) => t.status === 'active') ?? teams[0];
}

export async function coordinationPage(repo: Repository, patientId: string, q: CoordinationQuery, now: Date = new Date()): Promise<string | undefined> {
  const patient = await read(repo, `Patient/${patientId}`);
  if (!patient) return undefined;
  const who = nameOf(patient) ?? patientId;
  const team = await circleOf(repo, patientId);
  const today = now.toISOString();
  const members: { index: number; key: string; name: string; structure?: string; role?: string; start?: string; end?: string; active: boolean }[] = [];
  for (const [index, p] of (Array.isArray(team?.participant) ? team!.participant : []).entries()) {
    if (!isObject(p)) continue;
    const key = refOf(p.member);
    const d = await describe(repo, key);
    const period = isObject(p.period) ? p.period : {};
    const end = typeof period.end === 'string' ? period.end : undefined;
    members.push({ index, key: key ?? '', name: d.name, ...(d.structure ? { structure: d.structure } : {}), ...(codeText(p.role) ? { role: codeText(p.role)! } : {}), ...(typeof period.start === 'string' ? { start: period.start } : {}), ...(end ? { end } : {}), active: !end || end > today });
  }
  // The usager's authorisations (Consent, D-53), shown per member: which blocks they open.
  const opened = new Map<string, Set<string>>();
  for (const c of await all(repo, 'Consent', [{ name: 'patient', values: [`Patient/${patientId}`] }])) {
    const prov = isObject(c.provision) ? c.provision : {};
    if (c.status !== 'active' || (prov.type !== undefined && prov.type !== 'permit')) continue;
    const p = isObject(prov.period) ? prov.period : {};
    if ((typeof p.start === 'string' && p.start > today) || (typeof p.end === 'string' && p.end <= today)) continue;
    const blocks = (Array.isArray(prov.class) ? prov.class : []).map((k) => (isObject(k) && k.system === 'http://hl7.org/fhir/resource-types' ? String(k.code) : '')).filter(Boolean);
    for (const a of Array.isArray(prov.actor) ? prov.actor : []) {
      const who = isObject(a) ? refOf(a.reference) : undefined;
      if (who) opened.set(who, new Set([...(opened.get(who) ?? []), ...blocks]));
    }
  }
  const authorised = (key: string): string => {
    const b = opened.get(key);
    const parts = [b?.has('DocumentReference') ? 'cahier de liaison' : '', b?.has('CareTeam') ? 'cercle' : ''].filter(Boolean);
    return parts.length ? parts.join(', ') : 'non';
  };
  const proposals: Proposal[] = await circleProposals(repo, patientId, now);
  const base = `/usagers/${encodeURIComponent(patientId)}/coordination`;
  const circle = html`<section class="card" id="cercle"><h2>Cercle de santé et d’accompagnement</h2>
${members.length
    ? html`<div class="table-wrap"><table class="list"><thead><tr><th>Membre</th><th>Rôle</th><th>Structure</th><th>Période</th><th>Autorisé par l’usager</th><th></th></tr></thead><tbody>
${members.map((m) => html`<tr class="${m.active ? 'member-active' : 'member-left'}"><td>${m.name}</td><td>${m.role ?? ''}</td><td>${m.structure ?? ''}</td><td>${m.start ? `depuis le ${frDay(m.start)}` : ''}${m.end ? ` — jusqu’au ${frDay(m.end)}` : ''}</td><td class="consent">${authorised(m.key)}</td><td>${m.active
      ? html`<form method="post" action="${`${base}/quitter`}"><input type="hidden" name="index" value="${String(m.index)}"><button type="submit">Quitter le cercle</button></form>`
      : members.some((o) => o.key === m.key && o.active) ? '' : html`<form method="post" action="${`${base}/revenir`}"><input type="hidden" name="membre" value="${m.key}"><button type="submit">Revenir</button></form>`}</td></tr>`)}
</tbody></table></div>`
    : html`<p class="muted">Aucun cercle n’est encore constitué pour ${who}.</p>`}
<h3>Propositions tirées des données du DUI</h3>
${proposals.length
    ? html`<ul class="proposals">${proposals.map((p) => html`<li class="proposal"><strong>${p.display}</strong> — ${p.role}${p.start ? ` (depuis le ${frDay(p.start)})` : ''} <span class="muted">${p.source}</span>
<form method="post" action="${`${base}/accepter`}"><input type="hidden" name="membre" value="${p.member}"><input type="hidden" name="role" value="${p.role}"><input type="hidden" name="debut" value="${p.start ?? ''}"><button type="submit">Accepter</button></form></li>`)}</ul>`
    : html`<p class="muted">Aucune proposition.</p>`}
</section>`;

  // Notebook: the CdL notes about the usager, as threads (replies append to their note).
  const notes = (await all(repo, 'DocumentReference', [{ name: 'patient', values: [`Patient/${patientId}`] }])).filter(
    (d) => isObject(d.meta) && Array.isArray(d.meta.profile) && d.meta.profile.some((x) => typeof x === 'string' && x.startsWith(CDL_NOTE)),
  );
  const parentOf = (d: Json): string | undefined => {
    for (const r of Array.isArray(d.relatesTo) ? d.relatesTo : []) if (isObject(r) && r.code === 'appends') return refOf(r.target);
    return undefined;
  };
  const byDate = (a: Json, b: Json) => String(b.date ?? '').localeCompare(String(a.date ?? ''));
  const typeOf = (d: Json) => (isObject(d.type) && Array.isArray(d.type.coding) && isObject(d.type.coding[0]) ? String(d.type.coding[0].code ?? '') : '');
  const authorOf = (d: Json) => refOf(Array.isArray(d.author) ? d.author[0] : undefined) ?? '';
  const roots = notes.filter((d) => !parentOf(d) && (!q.type || typeOf(d) === q.type) && (!q.auteur || authorOf(d) === q.auteur)).sort(byDate);
  const names = new Map<string, string>();
  for (const d of notes) {
    const a = authorOf(d);
    if (a && !names.has(a)) names.set(a, (await describe(repo, a)).name);
  }
  const types = new Map<string, string>(NOTE_TYPES);
  for (const d of notes) if (typeOf(d)) types.set(typeOf(d), codeText(d.type) ?? typeOf(d));
  const textOf = (d: Json) =>
    (Array.isArray(d.content) ? d.content : [])
      .map((c) => (isObject(c) && isObject(c.attachment) && typeof c.attachment.data === 'string' && String(c.attachment.contentType ?? '').startsWith('text/') ? Buffer.from(c.attachment.data, 'base64').toString('utf8') : ''))
      .filter(Boolean)
      .join('\n');
  // Attached files (a title, not text shown above): links to the attached-document route.
  const filesOf = (d: Json): SafeHtml | string => {
    const links = (Array.isArray(d.content) ? d.content : [])
      .map((c, n) => ({ c, n }))
      .filter(({ c }) => isObject(c) && isObject(c.attachment) && typeof c.attachment.title === 'string' && !String(c.attachment.contentType ?? '').startsWith('text/'))
      .map(({ c, n }) => html`<li><a class="attachment" href="${`/documents/${encodeURIComponent(String(d.id))}/${n}`}">${String((c as Json & { attachment: Json }).attachment.title)}</a></li>`);
    return links.length ? html`<ul class="note-files">${links}</ul>` : '';
  };
  const urgent = (d: Json) => (Array.isArray(d.extension) ? d.extension : []).some((e) => isObject(e) && e.url === EMERGENCY && e.valueBoolean === true);
  const noteHtml = (d: Json, depth: number): SafeHtml => {
    const withdrawn = d.status === 'entered-in-error';
    const replies = notes.filter((x) => parentOf(x) === `DocumentReference/${String(d.id)}`).sort((a, b) => -byDate(a, b));
    return html`<article class="${`note${urgent(d) ? ' note-urgent' : ''}${withdrawn ? ' note-withdrawn' : ''}`}" id="${`note-${String(d.id)}`}">
<p class="note-head">${urgent(d) ? html`<span class="badge-urgent">Urgent</span> ` : ''}<strong>${codeText(d.type) ?? 'Note'}</strong> — ${names.get(authorOf(d)) ?? authorOf(d)} — ${frDay(d.date)}${withdrawn ? html` <span class="muted">(retirée)</span>` : ''}</p>
<p class="note-text">${textOf(d)}</p>${filesOf(d)}
${withdrawn ? '' : html`<details class="note-actions"><summary>Répondre</summary><form method="post" action="${`${base}/note`}"><input type="hidden" name="parent" value="${String(d.id)}"><input type="hidden" name="type" value="${typeOf(d)}"><label>Réponse <textarea name="texte" required></textarea></label>${authorSelect(members)}<button type="submit">Envoyer la réponse</button></form></details>
<form method="post" action="${`${base}/retirer`}" class="inline"><input type="hidden" name="note" value="${String(d.id)}"><button type="submit">Retirer la note</button></form>`}
${replies.length ? html`<div class="replies">${replies.map((r) => noteHtml(r, depth + 1))}</div>` : ''}
</article>`;
  };
  const filters = html`<form method="get" action="${base}" class="filters"><label>Type <select name="type"><option value="">tous</option>${[...types].map(([c, l]) => html`<option value="${c}"${q.type === c ? html` selected` : ''}>${l}</option>`)}</select></label>
<label>Auteur <select name="auteur"><option value="">tous</option>${[...names].map(([k, n]) => html`<option value="${k}"${q.auteur === k ? html` selected` : ''}>${n}</option>`)}</select></label><button type="submit">Filtrer</button></form>`;
  const write = html`<form method="post" action="${`${base}/note`}" class="note-form"><h3>Écrire une note</h3>
<label>Type <select name="type">${[...types].map(([c, l]) => html`<option value="${c}">${l}</option>`)}</select></label>
${authorSelect(members)}
<label>Texte <textarea name="texte" required></textarea></label>
<label>Pièce jointe (texte) <textarea name="piece" placeholder="Contenu joint, facultatif"></textarea></label>
<label>Fichier joint <input type="file" data-attach></label><input type="hidden" name="fichier_data"><input type="hidden" name="fichier_type"><input type="hidden" name="fichier_nom"><span class="attach-status muted" role="status"></span>
<label class="check"><input type="checkbox" name="urgent" value="1"> Note urgente</label>
<button type="submit">Enregistrer la note</button></form>`;
  const notebook = html`<section class="card" id="cahier"><h2>Cahier de liaison</h2>${filters}
${roots.length ? roots.map((d) => noteHtml(d, 0)) : html`<p class="muted">Aucune note.</p>`}
${members.some((m) => m.active) ? write : html`<p class="muted">Constituez le cercle pour écrire dans le cahier de liaison.</p>`}</section>`;
  const message = q.message ? html`<p class="notice" role="status">${q.message}</p>` : '';
  return page({
    title: `Coordination — ${who}`,
    section: 'usagers',
    scripts: ['/ui/coordination.js'],
    crumbs: [['Usagers', '/usagers'], [who, `/usagers/${encodeURIComponent(patientId)}`]],
    body: html`<h1>Coordination — ${who}</h1>${message}${circle}${notebook}`,
  });
}

function authorSelect(members: { key: string; name: string; active: boolean }[]): SafeHtml {
  const authors = members.filter((m) => m.active && /^(PractitionerRole|RelatedPerson|Organization)\//.test(m.key));
  return html`<label>Auteur <select name="auteur">${authors.map((m) => html`<option value="${m.key}">${m.name}</option>`)}</select></label>`;
}

/** The page's form posts: each a write through the server's interactions; the answer is a redirect with a message. */
export function registerCoordinationRoutes(ui: FastifyInstance, repo: Repository, writer: () => CoordinationWriter): void {
  type Req = { Params: { id: string }; Body: Record<string, string | undefined> };
  const back = (id: string, message: string, anchor: string) => `/usagers/${encodeURIComponent(id)}/coordination?message=${encodeURIComponent(message)}#${anchor}`;
  const run = async (id: string, anchor: string, work: () => Promise<string>): Promise<string> => {
    try {
      return back(id, await work(), anchor);
    } catch (e) {
      if (!(e instanceof FhirError)) throw e;
      const oo = e.toOutcome() as Json;
      const first = Array.isArray(oo.issue) ? oo.issue.find((i) => isObject(i) && i.severity === 'error') : undefined;
      const detail = isObject(first) && isObject(first.details) && typeof first.details.text === 'string' ? first.details.text : e.text;
      return back(id, `Refusé : ${detail}`, anchor);
    }
  };
  const today = () => new Date().toISOString();

  ui.post<Req>('/usagers/:id/coordination/accepter', async (req, reply) => {
    const id = req.params.id;
    const b = req.body ?? {};
    return reply.redirect(
      await run(id, 'cercle', async () => {
        let member = String(b.membre ?? '');
        if (!/^(RelatedPerson|PractitionerRole|Organization|Practitioner)\/[A-Za-z0-9\-.]+$/.test(member)) return 'Proposition invalide';
        // A professional with no known situation of practice is given one (CDS names roles).
        if (member.startsWith('Practitioner/')) {
          const role = await writer().create('PractitionerRole', { resourceType: 'PractitionerRole', active: true, practitioner: { reference: member } });
          member = `PractitionerRole/${String(role.record?.resource.id)}`;
        }
        const start = /^\d{4}-\d{2}-\d{2}$/.test(String(b.debut ?? '')) ? String(b.debut) : today().slice(0, 10);
        const participant = { ...(b.role ? { role: [{ text: String(b.role).slice(0, 200) }] } : {}), member: { reference: member }, period: { start } };
        const team = await circleOf(repo, id);
        if (!team) {
          const patient = await read(repo, `Patient/${id}`);
          await writer().create('CareTeam', {
            resourceType: 'CareTeam',
            meta: { profile: [CDS_CARETEAM] },
            identifier: [{ system: 'urn:ietf:rfc:3986', value: `urn:uuid:${randomUUID()}` }],
            status: 'active',
            name: `Cercle de santé et d’accompagnement de ${nameOf(patient) ?? id}`,
            subject: { reference: `Patient/${id}` },
            period: { start },
            participant: [participant],
          });
        } else {
          await writer().update('CareTeam', { id: String(team.id) }, { ...(team as FhirResource), participant: [...(Array.isArray(team.participant) ? team.participant : []), participant] });
        }
        return 'Membre ajouté au cercle';
      }),
    );
  });

  ui.post<Req>('/usagers/:id/coordination/quitter', async (req, reply) => {
    const id = req.params.id;
    return reply.redirect(
      await run(id, 'cercle', async () => {
        const team = await circleOf(repo, id);
        const i = Number(req.body?.index);
        const parts = Array.isArray(team?.participant) ? [...team!.participant] : [];
        if (!team || !Number.isInteger(i) || !isObject(parts[i])) return 'Membre introuvable';
        const p = parts[i] as Json;
        parts[i] = { ...p, period: { ...(isObject(p.period) ? p.period : {}), end: today() } };
        await writer().update('CareTeam', { id: String(team.id) }, { ...(team as FhirResource), participant: parts });
        return 'Le membre a quitté le cercle';
      }),
    );
  });

  ui.post<Req>('/usagers/:id/coordination/revenir', async (req, reply) => {
    const id = req.params.id;
    return reply.redirect(
      await run(id, 'cercle', async () => {
        const team = await circleOf(repo, id);
        const member = String(req.body?.membre ?? '');
        if (!team || !member) return 'Membre introuvable';
        // A member who returns gets a new participant entry (CDS): the old period is kept.
        const parts = [...(Array.isArray(team.participant) ? team.participant : []), { member: { reference: member }, period: { start: today().slice(0, 10) } }];
        await writer().update('CareTeam', { id: String(team.id) }, { ...(team as FhirResource), participant: parts });
        return 'Le membre est revenu dans le cercle';
      }),
    );
  });

  ui.post<Req>('/usagers/:id/coordination/note', async (req, reply) => {
    const id = req.params.id;
    const b = req.body ?? {};
    return reply.redirect(
      await run(id, 'cahier', async () => {
        const text = String(b.texte ?? '').trim();
        if (!text) return 'Refusé : la note est vide';
        const code = String(b.type ?? '');
        const label = NOTE_TYPES.find(([c]) => c === code)?.[1];
        const content = [{ attachment: { contentType: 'text/plain', language: 'fr', data: Buffer.from(text).toString('base64') } }];
        if (b.piece && b.piece.trim()) content.push({ attachment: { contentType: 'text/plain', language: 'fr', data: Buffer.from(b.piece).toString('base64'), title: 'Pièce jointe' } as never });
        if (b.fichier_data) {
          // A file read by the page's script: base64, a MIME type, a name; 5 MB at most.
          const data = b.fichier_data.replace(/\s+/g, '');
          const type = String(b.fichier_type ?? '');
          if (!/^[A-Za-z0-9+/]+={0,2}$/.test(data) || data.length % 4 !== 0) return 'Refusé : le fichier joint n’a pas pu être lu';
          if (!/^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/i.test(type)) return 'Refusé : le type du fichier joint est invalide';
          const size = Buffer.byteLength(data, 'base64');
          if (size > 5 * 1024 * 1024) return 'Refusé : le fichier joint dépasse 5 Mo';
          const title = String(b.fichier_nom ?? 'fichier').replace(/[\u0000-\u001f]/g, '').slice(0, 200) || 'fichier';
          content.push({ attachment: { contentType: type.toLowerCase(), data, title, size } as never });
        }
        const note: FhirResource = {
          resourceType: 'DocumentReference',
          meta: { profile: [CDL_NOTE] },
          ...(b.urgent ? { extension: [{ url: EMERGENCY, valueBoolean: true }] } : {}),
          status: 'current',
          ...(code ? { type: { coding: [{ system: NOTE_TYPE_SYSTEM, code, ...(label ? { display: label } : {}) }] } } : {}),
          subject: { reference: `Patient/${id}` },
          date: today(),
          author: b.auteur ? [{ reference: String(b.auteur) }] : [],
          ...(b.parent ? { relatesTo: [{ code: 'appends', target: { reference: `DocumentReference/${String(b.parent)}` } }] } : {}),
          content,
        };
        if (b.parent) {
          // A reply stays in this usager's notebook.
          const parent = await read(repo, `DocumentReference/${String(b.parent)}`);
          if (!parent || refOf(parent.subject) !== `Patient/${id}`) return 'Refusé : la note d’origine n’est pas dans ce cahier de liaison';
        }
        await writer().create('DocumentReference', note);
        return b.parent ? 'Réponse enregistrée' : 'Note enregistrée';
      }),
    );
  });

  ui.post<Req>('/usagers/:id/coordination/retirer', async (req, reply) => {
    const id = req.params.id;
    return reply.redirect(
      await run(id, 'cahier', async () => {
        const note = await read(repo, `DocumentReference/${String(req.body?.note ?? '')}`);
        if (!note || refOf(note.subject) !== `Patient/${id}`) return 'Note introuvable';
        await writer().update('DocumentReference', { id: String(note.id) }, { ...(note as FhirResource), status: 'entered-in-error' });
        return 'Note retirée';
      }),
    );
  });
}

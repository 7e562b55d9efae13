// "Journal des accès": the audit trail (src/server/audit.ts, table audit_event) — who read,
// searched, wrote or exported which health data, and what was refused — filtered by user,
// usager, French days and action, newest first, server-side paging.
import { html, seg, type SafeHtml } from '../html.js';
import { page } from '../layout.js';
import { PAGE_SIZE, beyondLastPage, invertedDatesHint, isoDay, pageNumber, pager, parisDayBoundary, q } from '../components.js';
import { frInstant } from '../fhir-util.js';
import { auditAgents, searchAuditRecords, type AuditFilter, type AuditRecord } from '../../storage/audit.js';
import type { Queryable, ReadScope } from '../../storage/types.js';
import { plural } from '../../fhir/outcome/plural.js';

export interface JournalQuery {
  utilisateur?: string;
  usager?: string;
  du?: string;
  au?: string;
  action?: string;
  page?: string;
}

/** The action filter's values: a French word for what was done (a refusal is any 401 / 403). */
const ACTIONS: Record<string, { label: string; filter: Partial<AuditFilter> }> = {
  lecture: { label: 'Lecture', filter: { kind: 'read' } },
  recherche: { label: 'Recherche', filter: { kind: 'search' } },
  ecriture: { label: 'Écriture', filter: { kind: 'write' } },
  export: { label: 'Export', filter: { kind: 'export' } },
  refus: { label: 'Refus (401, 403)', filter: { refused: true } },
};

const SUBTYPES: Record<string, string> = {
  read: 'lecture',
  vread: 'lecture d’une version',
  'history-instance': 'historique',
  'history-type': 'historique du type',
  'history-system': 'historique du serveur',
  'search-type': 'recherche',
  create: 'création',
  update: 'mise à jour',
  patch: 'modification (patch)',
  delete: 'suppression',
  transaction: 'envoi (transaction)',
  batch: 'envoi (batch)',
  export: 'export',
  operation: 'opération',
};

const TYPES: Record<string, string> = { Bundle: 'envoi', Patient: 'usager', AuditEvent: 'journal des accès', DocumentReference: 'document' };

function entityCell(r: AuditRecord): SafeHtml {
  if (!r.entityType) return html`<span class="muted">—</span>`;
  const label = `${TYPES[r.entityType] ?? r.entityType}${r.entityId ? ` ${r.entityId}` : ''}`;
  if (r.entityId && r.entityType === 'Patient') return html`<a href="${`/usagers/${seg(r.entityId)}`}">${label}</a>`;
  if (r.entityId && r.entityType === 'Bundle') return html`<a href="${`/envois/${seg(r.entityId)}`}">${label}</a>`;
  return html`${label}`;
}

function patientsCell(r: AuditRecord): SafeHtml {
  if (!r.patients.length) return html`<span class="muted">—</span>`;
  const shown = r.patients.slice(0, 3).map((p, i) => html`${i ? ', ' : ''}<a href="${`/usagers/${seg(p)}`}">${p}</a>`);
  return html`${shown}${r.patients.length > 3 ? html` <span class="muted">et ${plural(r.patients.length - 3, 'autre', 'autres')}</span>` : ''}`;
}

function outcomeCell(r: AuditRecord): SafeHtml {
  const cls = r.outcome === 0 ? 'ok' : 'ko';
  const word = r.outcome === 0 ? 'succès' : r.httpStatus === 401 || r.httpStatus === 403 ? 'refusé' : 'échec';
  return html`<span class="${`badge ${cls}`}">${word}</span> <span class="muted">HTTP ${r.httpStatus}</span>${r.outcomeText ? html`<br><span class="muted">${r.outcomeText.slice(0, 160)}</span>` : ''}`;
}

export async function journalPage(db: Queryable, query: JournalQuery, scope?: ReadScope): Promise<string> {
  const pageNo = pageNumber(query.page);
  const utilisateur = q(query.utilisateur);
  const usager = q(query.usager)?.replace(/^.*Patient\//, '');
  const du = isoDay(query.du);
  const au = isoDay(query.au);
  const action = query.action && ACTIONS[query.action] ? query.action : undefined;
  const filter: AuditFilter = {
    ...(utilisateur ? { agent: utilisateur } : {}),
    ...(usager ? { patient: usager } : {}),
    ...(du ? { from: parisDayBoundary(du, 'start') } : {}),
    ...(au ? { before: new Date(Date.parse(parisDayBoundary(au, 'end')) + 1).toISOString() } : {}),
    ...(action ? ACTIONS[action]!.filter : {}),
    // A token restricted to some organisations: the accesses to their usagers only (D-171).
    ...(scope ? { scope } : {}),
    count: PAGE_SIZE,
    offset: (pageNo - 1) * PAGE_SIZE,
  };
  const [list, agents] = await Promise.all([searchAuditRecords(db, filter), auditAgents(db, 500, scope)]);
  const current = { utilisateur, usager, du, au, action };
  const filtered = Boolean(utilisateur || usager || du || au || action);
  const body = html`<h1>Journal des accès</h1>
<p class="muted">Chaque lecture, recherche, écriture, export ou refus portant sur des données de santé, par l’API FHIR ou par ces pages (aussi servi en FHIR : <code>GET /fhir/AuditEvent</code>).</p>
<form class="filters" method="get" action="/journal" role="search">
<label>Utilisateur
<input type="text" name="utilisateur" list="utilisateurs" value="${utilisateur ?? ''}" placeholder="sujet ou client du jeton"></label>
<datalist id="utilisateurs">${agents.map((a) => html`<option value="${a}"></option>`)}</datalist>
<label>Usager <input type="text" name="usager" value="${usager ?? ''}" placeholder="identifiant (Patient)"></label>
<label>Du <input type="date" name="du" value="${du ?? ''}"></label>
<label>au <input type="date" name="au" value="${au ?? ''}"></label>
<label>Action
<select name="action"><option value="">Toutes</option>
${Object.entries(ACTIONS).map(([k, v]) => html`<option value="${k}"${k === action ? html` selected` : ''}>${v.label}</option>`)}
</select></label>
<button type="submit">Filtrer</button> <a class="button secondary" href="/journal">Réinitialiser</a>
</form>
${invertedDatesHint('/journal', current, du, au, 'aucun accès ne peut correspondre')}
${
  list.items.length === 0
    ? list.total > 0
      ? beyondLastPage('/journal', current, pageNo, list.total, ['accès', 'accès'])
      : html`<p class="muted">${filtered ? 'Aucun accès ne correspond à ces critères.' : 'Aucun accès enregistré pour le moment.'}</p>`
    : html`<div class="table-wrap"><table class="list cards" id="journal">
<thead><tr><th>Date</th><th>Utilisateur</th><th>Action</th><th>Objet</th><th>Usagers</th><th>Résultat</th><th>Origine</th></tr></thead>
<tbody>
${list.items.map(
  (r) => html`<tr>
<td data-label="Date">${frInstant(r.recorded)}</td>
<td data-label="Utilisateur">${r.agentSubject ?? html`<span class="muted">${r.httpStatus === 401 ? 'sans jeton valide' : 'anonyme'}</span>`}${r.agentClient && r.agentClient !== r.agentSubject ? html`<br><span class="muted">client ${r.agentClient}</span>` : ''}${r.agentOrganisations.length ? html`<br><span class="muted">FINESS ${r.agentOrganisations.join(', ')}</span>` : ''}</td>
<td data-label="Action">${SUBTYPES[r.subtype] ?? r.subtype}${r.query ? html`<br><code class="muted">${r.query.slice(0, 200)}</code>` : ''}</td>
<td data-label="Objet">${entityCell(r)}</td>
<td data-label="Usagers">${patientsCell(r)}</td>
<td data-label="Résultat">${outcomeCell(r)}</td>
<td data-label="Origine">${r.channel === 'ui' ? 'pages web' : 'API FHIR'}${r.sourceIp ? html`<br><span class="muted">${r.sourceIp}</span>` : ''}</td>
</tr>`,
)}
</tbody></table></div>
${pager('/journal', current, pageNo, list.total)}`
}`;
  return page({ title: 'Journal des accès', section: 'journal', body });
}

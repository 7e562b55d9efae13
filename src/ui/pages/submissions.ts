// "Envois reçus" (list with filters, server-side paging) and "Rapport de validation" (one
// submission: what was received, what was stored, and the report with excerpts).
import { html, href, seg, type SafeHtml } from '../html.js';
import { page } from '../layout.js';
import { PAGE_SIZE, beyondLastPage, invertedDatesHint, isoDay, outcomeBadge, pageNumber, pager, parisDayBoundary, q } from '../components.js';
import { renderReport, countsText, issuesFromOutcome, countIssues } from '../report.js';
import { arr, frDate, frInstant, isObj, refKey, str } from '../fhir-util.js';
import { organisationNames, submissionOrganisations } from '../../storage/indicators.js';
import type { ReadScope, Repository, SubmissionRecord } from '../../storage/types.js';
import { inScope } from '../../storage/scope.js';
import { plural } from '../../fhir/outcome/plural.js';

/** Why a rejected submission's Bundle is no longer kept (D-85, docs/security.md). */
const DROPPED_FR: Record<NonNullable<SubmissionRecord['bundleDropped']>, string> = {
  retention: 'durée de conservation des envois rejetés dépassée',
  quota: 'quota des envois rejetés conservés atteint : les plus anciens ne gardent que leur rapport',
  size: 'trop volumineux pour être conservé',
};

export interface SubmissionsQuery {
  organisation?: string;
  du?: string;
  au?: string;
  resultat?: string;
  page?: string;
}

function usagersCell(s: SubmissionRecord): SafeHtml {
  const list = s.usagers ?? [];
  if (list.length === 0) return html`<span class="muted">—</span>`;
  const shown = list.slice(0, 3).map((u) => {
    const label = u.name || u.identifier || u.id || '?';
    // Links only for accepted submissions: their usagers are stored under these ids.
    return s.outcome === 'accepted' && u.id ? html`<a href="${`/usagers/${seg(u.id)}`}">${label}</a>` : html`<span>${label}</span>`;
  });
  return html`${shown.map((x, i) => html`${i ? ', ' : ''}${x}`)}${list.length > 3 ? html` <span class="muted">et ${plural(list.length - 3, 'autre', 'autres')}</span>` : ''}`;
}

export async function submissionsPage(repo: Repository, query: SubmissionsQuery, scope?: ReadScope): Promise<string> {
  const pageNo = pageNumber(query.page);
  const organisation = q(query.organisation);
  const du = isoDay(query.du);
  const au = isoDay(query.au);
  const resultat = query.resultat === 'accepte' ? 'accepted' : query.resultat === 'rejete' ? 'rejected' : undefined;
  const [list, orgs, names] = await Promise.all([
    repo.listSubmissions({
      organizationFiness: organisation,
      outcome: resultat,
      from: du ? parisDayBoundary(du, 'start') : undefined,
      to: au ? parisDayBoundary(au, 'end') : undefined,
      // A token restricted to some organisations: theirs only (totals included).
      ...(scope ? { scope } : {}),
      count: PAGE_SIZE,
      offset: (pageNo - 1) * PAGE_SIZE,
    }),
    submissionOrganisations(await repo.reader()).then((list) => list.filter((o) => inScope(scope, o.finess))),
    organisationNames(await repo.reader()),
  ]);
  // A Bundle without its Organization entry (the PP examples) still names a known structure.
  const orgName = (s: SubmissionRecord) => s.organizationName ?? (s.organizationFiness ? names.get(s.organizationFiness) : undefined);
  const current = { organisation, du, au, resultat: query.resultat === 'accepte' || query.resultat === 'rejete' ? query.resultat : undefined };
  const badDates = [query.du && !du ? `« ${query.du} »` : undefined, query.au && !au ? `« ${query.au} »` : undefined].filter(Boolean);
  const body = html`<h1>Envois reçus</h1>
<form class="filters" method="get" action="/envois" role="search">
<label>Organisation
<select name="organisation"><option value="">Toutes</option>
${orgs.map((o) => {
  const name = o.name ?? names.get(o.finess);
  return html`<option value="${o.finess}"${o.finess === organisation ? html` selected` : ''}>${name ? `${name} (${o.finess})` : o.finess}</option>`;
})}
${organisation && !orgs.some((o) => o.finess === organisation) ? html`<option value="${organisation}" selected>${organisation}</option>` : ''}
</select></label>
<label>Reçu du <input type="date" name="du" value="${du ?? ''}"></label>
<label>au <input type="date" name="au" value="${au ?? ''}"></label>
<label>Résultat
<select name="resultat"><option value="">Tous</option>
<option value="accepte"${current.resultat === 'accepte' ? html` selected` : ''}>Accepté</option>
<option value="rejete"${current.resultat === 'rejete' ? html` selected` : ''}>Rejeté</option>
</select></label>
<button type="submit">Filtrer</button> <a class="button secondary" href="/envois">Réinitialiser</a>
<a class="button secondary" id="export-csv" href="${href('/envois.csv', current)}" download>Exporter en CSV</a>
</form>
${invertedDatesHint('/envois', current, du, au, 'aucun envoi ne peut correspondre')}
${badDates.length ? html`<p class="warn-box" id="dates-invalides">Date non reconnue : ${badDates.join(', ')} (format attendu : AAAA-MM-JJ) ; ce filtre est ignoré.</p>` : ''}
${
  list.items.length === 0
    ? list.total > 0
      ? beyondLastPage('/envois', current, pageNo, list.total, ['envoi', 'envois'])
      : organisation || du || au || resultat
        ? html`<p class="muted">Aucun envoi ne correspond à ces critères.</p>`
        : html`<p class="muted">Aucun envoi reçu pour le moment. Les Bundles de transaction envoyés à <code>POST /fhir</code> apparaîtront ici.</p>`
    : html`<div class="table-wrap"><table class="list cards" id="envois">
<thead><tr><th>Reçu le</th><th>Organisation</th><th>Usagers concernés</th><th class="num">Ressources</th><th>Résultat</th><th class="num">Erreurs</th><th class="num">Avertissements</th><th></th></tr></thead>
<tbody>
${list.items.map(
  (s) => html`<tr>
<td data-label="Reçu le">${frInstant(s.receivedAt)}</td>
<td data-label="Organisation">${orgName(s) ?? html`<span class="muted">inconnue</span>`}${s.organizationFiness ? html`<br><span class="muted">FINESS ${s.organizationFiness}</span>` : ''}</td>
<td data-label="Usagers">${usagersCell(s)}</td>
<td data-label="Ressources" class="num">${s.resourceCount}</td>
<td data-label="Résultat">${outcomeBadge(s.outcome)} <span class="muted">HTTP ${s.httpStatus}</span>${sentWhat(s)}${igLabel(s.ig) ? html`<br><span class="muted ig">${igLabel(s.ig)}</span>` : ''}</td>
<td data-label="Erreurs" class="num">${s.errorCount ? html`<span class="n-err">${s.errorCount}</span>` : '0'}</td>
<td data-label="Avertissements" class="num"${s.noticeCount ? html` title="${`${plural(s.noticeCount, 'vérification non faite ou défaut du guide, compté', 'vérifications non faites ou défauts du guide, comptés')} à part`}"` : ''}>${s.warningCount ? html`<span class="n-warn">${s.warningCount}</span>` : '0'}</td>
<td data-label=""><a href="${`/envois/${seg(s.id)}`}">Rapport</a></td>
</tr>`,
)}
</tbody></table></div>
${pager('/envois', current, pageNo, list.total)}`
}`;
  return page({ title: 'Envois reçus', section: 'envois', body });
}

/** What a rejected submission was when it was not a Bundle: unreadable, or another resource type. */
function sentWhat(s: { outcome: string; submittedType?: string }): SafeHtml | string {
  if (s.outcome !== 'rejected' || s.submittedType === 'Bundle') return '';
  return s.submittedType
    ? html`<br><span class="muted">${s.submittedType}, pas un Bundle</span>`
    : html`<br><span class="badge ko illisible">illisible</span>`;
}

/** `ans.fhir.fr.tddui#2.3.0` -> `TDDUI 2.3.0` (submissions logged before migration 0020 have none). */
export function igLabel(ig: string | undefined): string | undefined {
  if (!ig) return undefined;
  const [name, version] = ig.split('#');
  return name === 'ans.fhir.fr.tddui' ? `TDDUI ${version}` : ig;
}

interface StoredEntry {
  location: string;
  status?: string;
  key?: string;
}

function responseEntries(response: unknown): StoredEntry[] {
  if (!isObj(response)) return [];
  return arr(response.entry).map((e) => {
    const r = isObj(e.response) ? e.response : {};
    const location = str(r.location) ?? '';
    return { location, status: str(r.status), key: refKey(location) };
  });
}

export async function submissionPage(repo: Repository, id: string, scope?: ReadScope): Promise<string | undefined> {
  const s = await repo.getSubmission(id, scope ? { scope } : {});
  if (!s) return undefined;
  const issues = issuesFromOutcome(s.report);
  const counts = countIssues(issues);
  const stored = responseEntries(s.response);
  const bundleEntries = isObj(s.bundle) && Array.isArray(s.bundle.entry) ? s.bundle.entry : [];
  // An unreadable body is logged as { unreadableBody: text } (src/server/fhir-api.ts).
  const unreadable = isObj(s.bundle) && s.bundle.resourceType === undefined && typeof s.bundle.unreadableBody === 'string' ? s.bundle.unreadableBody : undefined;
  const body = html`<h1>Rapport de validation</h1>
<div class="card">
<table class="kv">
<tr><th>Reçu le</th><td>${frInstant(s.receivedAt)}</td></tr>
<tr><th>Organisation</th><td>${s.organizationName ?? 'inconnue'}${s.organizationFiness ? ` — FINESS ${s.organizationFiness}` : ''}</td></tr>
<tr><th>Résultat</th><td>${outcomeBadge(s.outcome)} HTTP ${s.httpStatus}${sentWhat(s)}</td></tr>
${igLabel(s.ig) ? html`<tr><th>Version du guide</th><td class="ig">${igLabel(s.ig)} <span class="muted">(${s.ig})</span></td></tr>` : ''}
<tr><th>Ressources</th><td>${s.resourceCount}${s.unchangedCount ? html` <span class="muted" id="inchangees">dont ${s.unchangedCount < 2 ? `${s.unchangedCount} inchangée : renvoyée` : `${s.unchangedCount} inchangées : renvoyées`} à l’identique, aucune nouvelle version enregistrée</span>` : ''}</td></tr>
<tr><th>Constats</th><td>${countsText(counts)}${counts.errors !== s.errorCount || (counts.warnings !== s.warningCount && counts.warnings + counts.notices !== s.warningCount) ? html` <span class="muted">(enregistré : ${plural(s.errorCount, 'erreur', 'erreurs')}, ${plural(s.warningCount, 'avertissement', 'avertissements')})</span>` : ''}</td></tr>
<tr><th>Usagers concernés</th><td>${usagersCell(s)}</td></tr>
<tr><th>Téléchargements</th><td><a href="${`/envois/${seg(s.id)}/bundle.json`}">Bundle soumis (JSON)</a> · <a href="${`/envois/${seg(s.id)}/rapport.json`}">Rapport (OperationOutcome)</a> · <a href="${`/envois/${seg(s.id)}/rapport.html`}" id="rapport-html">Rapport à transmettre (HTML)</a>${s.response ? html` · <a href="${`/envois/${seg(s.id)}/reponse.json`}">Réponse (transaction-response)</a>` : ''}</td></tr>
</table>
</div>
${
  unreadable !== undefined
    ? html`<p class="error-box">Envoi illisible : le contenu reçu n’est ni du JSON ni du XML FHIR lisible ; rien n’a été enregistré. Le texte reçu (64 Kio au plus) et la raison sont conservés ci-dessous.</p>
<details class="card" open><summary>Texte reçu (${plural(unreadable.length, 'caractère conservé', 'caractères conservés')})</summary><pre class="raw-body">${unreadable}</pre></details>`
    : s.outcome === 'rejected' && s.bundleDropped
    ? html`<p class="error-box">Envoi rejeté : rien n’a été enregistré. Son rapport est conservé ci-dessous ; le Bundle ne l’est plus <span id="bundle-dropped">(${DROPPED_FR[s.bundleDropped]})</span>.</p>`
    : s.outcome === 'rejected'
    ? html`<p class="error-box">Envoi rejeté : rien n’a été enregistré. Le Bundle et son rapport sont conservés ci-dessous pour corriger l’export.</p>`
    : stored.length
      ? html`<details class="card"><summary>${plural(stored.length, 'ressource enregistrée', 'ressources enregistrées')}</summary><table class="list"><thead><tr><th>Entrée</th><th>Ressource soumise</th><th>Enregistrée sous</th><th>Statut</th></tr></thead><tbody>
${stored.map((e, i) => {
  const sub = isObj(bundleEntries[i]) && isObj((bundleEntries[i] as Record<string, unknown>).resource) ? ((bundleEntries[i] as Record<string, unknown>).resource as Record<string, unknown>) : undefined;
  const link = e.key?.startsWith('Patient/') ? html`<a href="${`/usagers/${seg(e.key.slice(8))}`}">${e.location}</a>` : html`<code>${e.location}</code>`;
  return html`<tr><td>${i}</td><td>${sub ? `${String(sub.resourceType)}/${String(sub.id ?? '')}` : ''}</td><td>${link}</td><td>${e.status ?? ''}</td></tr>`;
})}
</tbody></table></details>`
      : ''
}
<h2>Constats par ressource</h2>
${s.report ? renderReport(s.report, unreadable === undefined ? s.bundle : undefined) : html`<p class="muted">Aucun rapport enregistré pour cet envoi.</p>`}`;
  return page({ title: `Envoi du ${frInstant(s.receivedAt)}`, section: 'envois', body, crumbs: [['Envois reçus', href('/envois')]] });
}

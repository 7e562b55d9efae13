// What the UI lists, as files a receiver keeps or forwards: CSV of *Envois reçus* and
// *Usagers* with the filters of the page (UTF-8 with a BOM, `;` separators, CRLF, French
// headers: what French spreadsheets open without an import dialog), streamed page by page
// from the database so a list of 120,000 usagers costs no more memory than a page; and the
// validation report of a submission as one standalone HTML file (styles inlined, nothing to
// fetch) to send to the vendor. CSV by csv-stringify (docs/architecture.md, Choices).
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { stringify } from 'csv-stringify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { html, raw } from './html.js';
import { STYLE_CSS } from './assets.js';
import { isoDay, parisDayBoundary, q, sortOrder } from './components.js';
import { SYS, frInstant, frDate, identifierValue, insStatus, patientNames, type Json } from './fhir-util.js';
import { igLabel } from './pages/submissions.js';
import { genderFr, usagerFiness, usagerSearchParams, type UsagersQuery } from './pages/usagers.js';
import type { SubmissionsQuery } from './pages/submissions.js';
import { qualityFilterOf, qualityRows, type QualityQuery } from './pages/quality.js';
import { countIssues, countsText, issuesFromOutcome, renderReport } from './report.js';
import { organisationNames, readAggregates } from '../storage/indicators.js';
import { USAGER_SORTS, listUsagers } from '../storage/usager-list.js';
import type { ReadScope, Repository, SubmissionFilter } from '../storage/types.js';
import { pilotageView, type PilotageQuery } from './pages/pilotage.js';

/** Rows read from the database per step of an export. */
const BATCH = 1000;

/**
 * A spreadsheet runs a cell that starts with = + - @ (or a tab / carriage return) as a
 * formula: text from submitted data (a name, an identifier) is prefixed with an apostrophe so
 * it stays text ("CSV injection"). Numbers are written as numbers.
 */
export function cell(v: unknown): string | number {
  if (v === undefined || v === null) return '';
  if (typeof v === 'number') return v;
  const s = String(v);
  return /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
}

/** A CSV answer: the rows of `source` (arrays in the order of `columns`), streamed. */
export function sendCsv(reply: FastifyReply, filename: string, columns: string[], source: AsyncIterable<unknown[]>): FastifyReply {
  const csv = stringify({ bom: true, delimiter: ';', record_delimiter: 'windows', header: true, columns, quoted_match: /[";\r\n]/ });
  const rows = Readable.from(
    (async function* () {
      for await (const r of source) yield r.map(cell);
    })(),
  );
  rows.on('error', (e) => csv.destroy(e));
  rows.pipe(csv);
  return reply
    .header('content-type', 'text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${filename}"`)
    .header('cache-control', 'private, no-store')
    .send(csv);
}

/** The submissions filter of the *Envois reçus* page's query (the same parameters). */
export function submissionFilterOf(query: SubmissionsQuery): Omit<SubmissionFilter, 'count' | 'offset'> {
  const du = isoDay(query.du);
  const au = isoDay(query.au);
  const organisation = q(query.organisation);
  const outcome = query.resultat === 'accepte' ? 'accepted' : query.resultat === 'rejete' ? 'rejected' : undefined;
  return {
    ...(organisation ? { organizationFiness: organisation } : {}),
    ...(outcome ? { outcome } : {}),
    ...(du ? { from: parisDayBoundary(du, 'start') } : {}),
    ...(au ? { to: parisDayBoundary(au, 'end') } : {}),
  };
}

export const SUBMISSION_COLUMNS = ['Reçu le', 'Organisation', 'FINESS', 'Usagers concernés', 'Ressources', 'Résultat', 'Statut HTTP', 'Erreurs', 'Avertissements', 'Version du guide', 'Identifiant de l’envoi'];

async function* submissionRows(repo: Repository, query: SubmissionsQuery, scope?: ReadScope): AsyncGenerator<unknown[]> {
  const filter = { ...submissionFilterOf(query), ...(scope ? { scope } : {}) };
  const names = await organisationNames(await repo.reader());
  for (let offset = 0; ; offset += BATCH) {
    const page = await repo.listSubmissions({ ...filter, count: BATCH, offset });
    for (const s of page.items) {
      const usagers = (s.usagers ?? []).map((u) => u.name || u.identifier || u.id || '?').join(', ');
      yield [
        frInstant(s.receivedAt),
        s.organizationName ?? (s.organizationFiness ? names.get(s.organizationFiness) : undefined),
        s.organizationFiness,
        usagers,
        s.resourceCount,
        s.outcome === 'accepted' ? 'accepté' : 'rejeté',
        s.httpStatus,
        s.errorCount,
        s.warningCount,
        igLabel(s.ig),
        s.id,
      ];
    }
    if (page.items.length < BATCH) return;
  }
}

export const USAGER_COLUMNS = ['Nom', 'Nom de naissance', 'Organisation', 'FINESS', 'Sexe', 'Date de naissance', 'Identifiant local', 'INS', 'Type d’INS', 'Fiabilité de l’identité', 'Mis à jour le', 'Identifiant serveur'];

async function* usagerRows(repo: Repository, query: UsagersQuery, scope?: ReadScope): AsyncGenerator<unknown[]> {
  const text = q(query.q);
  const finess = q(query.organisation);
  const sort = sortOrder(query.tri, USAGER_SORTS, 'nom');
  const search = usagerSearchParams(text);
  const names = await organisationNames(await repo.reader());
  // Every batch from the copy where the derived tables were current when the export began (D-356).
  const derived = await repo.derivedReader();
  for (let offset = 0; ; offset += BATCH) {
    const page = await readAggregates(derived, (db) =>
      listUsagers(db, {
        words: search.filter((s) => s.name === 'name').map((s) => s.values[0]!),
        ...(search.find((s) => s.name === 'identifier') ? { identifier: search.find((s) => s.name === 'identifier')!.values[0]! } : {}),
        ...(finess ? { finess } : {}),
        sort: sort.key,
        descending: sort.descending,
        organisationNames: names,
        ...(scope ? { scope } : {}),
        count: BATCH,
        offset,
      }),
    );
    const found = page.ids.length ? (await repo.search({ resourceType: 'Patient', params: [{ name: '_id', values: page.ids }], count: page.ids.length, offset: 0, total: 'none' })).matches : [];
    const byId = new Map(found.map((m) => [m.id, m.resource as Json]));
    for (const id of page.ids) {
      const p = byId.get(id);
      if (!p) continue;
      const n = patientNames(p);
      const f = usagerFiness(p);
      const ins = insStatus(p);
      const meta = (p.meta ?? {}) as Json;
      yield [n.shown, n.birth, f ? names.get(f) : undefined, f, genderFr(p.gender), frDate(p.birthDate), identifierValue(p, SYS.localUsager), ins.ins?.value, ins.ins?.kind, ins.reliabilityLabel, frInstant(meta.lastUpdated), id];
    }
    if (page.ids.length < BATCH) return;
  }
}

/** `envois-2026-12-06.csv`: the day of the export in the name. */
function stamped(prefix: string, ext: string): string {
  return `${prefix}-${new Date().toISOString().slice(0, 10)}.${ext}`;
}

/** The validation report of one submission as a standalone French HTML page. */
export async function standaloneReport(repo: Repository, id: string, scope?: ReadScope): Promise<string | undefined> {
  const s = await repo.getSubmission(id, scope ? { scope } : {});
  if (!s) return undefined;
  const counts = countIssues(issuesFromOutcome(s.report));
  const usagers = (s.usagers ?? []).map((u) => u.name || u.identifier || '?').join(', ');
  return html`<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Rapport de validation — envoi du ${frInstant(s.receivedAt)}</title>
<style>${raw(STYLE_CSS)}</style>
</head>
<body>
<main>
<h1>Rapport de validation</h1>
<div class="card">
<table class="kv">
<tr><th>Reçu le</th><td>${frInstant(s.receivedAt)}</td></tr>
<tr><th>Organisation</th><td>${s.organizationName ?? 'inconnue'}${s.organizationFiness ? ` — FINESS ${s.organizationFiness}` : ''}</td></tr>
<tr><th>Résultat</th><td>${s.outcome === 'accepted' ? 'accepté' : 'rejeté'} (HTTP ${s.httpStatus})</td></tr>
${igLabel(s.ig) ? html`<tr><th>Version du guide</th><td>${igLabel(s.ig)}</td></tr>` : ''}
<tr><th>Ressources</th><td>${s.resourceCount}</td></tr>
<tr><th>Constats</th><td>${countsText(counts)}</td></tr>
<tr><th>Usagers concernés</th><td>${usagers || '—'}</td></tr>
<tr><th>Identifiant de l’envoi</th><td><code>${s.id}</code></td></tr>
</table>
</div>
${s.outcome === 'rejected' ? html`<p class="error-box">Envoi rejeté : rien n’a été enregistré par le récepteur.</p>` : ''}
<h2>Constats par ressource</h2>
${s.report ? renderReport(s.report, s.bundle) : html`<p class="muted">Aucun rapport enregistré pour cet envoi.</p>`}
</main>
<footer>Rapport produit par le récepteur TDDUI le ${frInstant(new Date().toISOString())} (guide d’implémentation ANS/CNSA « Transfert de données DUI »).</footer>
</body>
</html>
`.value;
}

/** The policy of the standalone report: its own inline style only. */
const REPORT_CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(STYLE_CSS).digest('base64')}'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

export const QUALITY_COLUMNS = ['Organisation', 'FINESS', 'Logiciel émetteur', 'Envois', 'Rejetés', 'Taux de rejet (%)', 'Règles les plus fréquentes', 'Premier envoi', 'Dernier envoi', 'Dernier envoi rejeté', 'Identifiant du dernier envoi rejeté'];

async function* qualityCsvRows(repo: Repository, query: QualityQuery, scope?: ReadScope): AsyncGenerator<unknown[]> {
  for (const r of await qualityRows(await repo.reader(), query, scope)) {
    yield [
      r.organisation ?? '',
      r.finess ?? '',
      r.client ?? '',
      r.submissions,
      r.rejected,
      Math.round(r.rejectionRate * 1000) / 10,
      r.topRules.map((x) => `${x.rule} (${x.count})`).join(', '),
      frInstant(r.first),
      frInstant(r.last),
      r.lastRejected ? frInstant(r.lastRejected.receivedAt) : '',
      r.lastRejected?.id ?? '',
    ];
  }
}

/** The three tables of *Pilotage* as CSV (`tableau`): per organisation, per week, per GIR. */
export const PILOTAGE_COLUMNS = {
  organisations: ['Organisation', 'FINESS', 'Usagers', 'Usagers actifs', 'Évènements', 'Transports', 'Évaluations', 'Situation au', 'Semaines'],
  semaines: ['Semaine du', 'Évènements', 'Transports usager', 'Transports professionnel', 'Organisation (FINESS)'],
  gir: ['GIR', 'Usagers', 'Situation au', 'Organisation (FINESS)'],
} as const;

export type PilotageTable = keyof typeof PILOTAGE_COLUMNS;

/** The rows of one *Pilotage* table with the page's filters (the figures the page shows). */
async function* pilotageRows(repo: Repository, query: PilotageQuery, table: PilotageTable, reviewMonths: number, scope?: ReadScope): AsyncGenerator<unknown[]> {
  const v = await pilotageView(repo, query, reviewMonths, scope);
  const org = v.finess ?? 'toutes';
  if (table === 'organisations') {
    for (const o of v.orgRows) if (!v.finess || o.finess === v.finess) yield [o.name ?? '', o.finess, o.usagers, o.active, o.events, o.transports, o.evaluations, frDate(v.today), v.weeks];
  } else if (table === 'semaines') {
    for (let i = 0; i < v.weekList.length; i++) yield [frDate(v.weekList[i]!), v.events[i], v.trUsager[i], v.trPro[i], org];
  } else {
    for (let g = 0; g < 6; g++) yield [`GIR ${g + 1}`, v.girCounts[g], frDate(v.today), org];
    if (v.girUnknown) yield ['GIR non reconnu', v.girUnknown, frDate(v.today), org];
  }
}

/**
 * The export routes, in the UI's plugin (its token check and audit hooks apply). `scopeOf`: the
 * organisations the request's token may read (src/rest/access.ts; undefined: every one).
 */
export function registerExports(ui: FastifyInstance, repo: Repository, scopeOf: (req: FastifyRequest) => ReadScope | undefined = () => undefined, reviewMonths = 12): void {
  ui.get<{ Querystring: QualityQuery }>('/qualite.csv', async (req, reply) => sendCsv(reply, stamped('qualite-envois', 'csv'), QUALITY_COLUMNS, qualityCsvRows(repo, req.query ?? {}, scopeOf(req))));
  ui.get<{ Querystring: QualityQuery }>('/qualite.json', async (req, reply) =>
    reply.header('cache-control', 'private, no-store').type('application/json; charset=utf-8').send({ filter: qualityFilterOf(req.query ?? {}), rows: await qualityRows(await repo.reader(), req.query ?? {}, scopeOf(req)) }),
  );
  ui.get<{ Querystring: SubmissionsQuery }>('/envois.csv', async (req, reply) => sendCsv(reply, stamped('envois', 'csv'), SUBMISSION_COLUMNS, submissionRows(repo, req.query ?? {}, scopeOf(req))));
  ui.get<{ Querystring: UsagersQuery }>('/usagers.csv', async (req, reply) => sendCsv(reply, stamped('usagers', 'csv'), USAGER_COLUMNS, usagerRows(repo, req.query ?? {}, scopeOf(req))));
  ui.get<{ Querystring: PilotageQuery & { tableau?: string } }>('/pilotage.csv', async (req, reply) => {
    const query = req.query ?? {};
    const table: PilotageTable = query.tableau === 'semaines' || query.tableau === 'gir' ? query.tableau : 'organisations';
    return sendCsv(reply, stamped(`pilotage-${table}`, 'csv'), [...PILOTAGE_COLUMNS[table]], pilotageRows(repo, query, table, reviewMonths, scopeOf(req)));
  });
  ui.get<{ Params: { id: string } }>('/envois/:id/rapport.html', async (req, reply) => {
    const body = await standaloneReport(repo, req.params.id, scopeOf(req));
    if (!body) return reply.code(404).type('text/html; charset=utf-8').send('<!doctype html><html lang="fr"><meta charset="utf-8"><title>Introuvable</title><p>Cet envoi est introuvable.</p></html>');
    return reply
      .header('content-security-policy', REPORT_CSP)
      .header('content-disposition', `attachment; filename="rapport-envoi-${req.params.id.replace(/[^A-Za-z0-9-]/g, '')}.html"`)
      .type('text/html; charset=utf-8')
      .send(body);
  });
}

// Entry point of the web UI: the server calls registerUi() to mount the French pages at `/`.
// Server-rendered HTML (the `html` tag escapes everything), one stylesheet and one small
// script served from here, charts as inline SVG: no front-end build, nothing from the network.
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ReadScope, Repository } from '../storage/types.js';
import { describeScope, scopedRepository } from '../storage/scope.js';
import type { TdduiValidator } from '../tddui/validator.js';
import type { Authenticator } from '../server/auth.js';
import { actorOf, noteActor } from '../server/audit.js';
import type { NotificationService } from '../notification/service.js';
import { NOTIFICATIONS_CSP, NOTIFICATIONS_JS, notificationsPage } from './pages/notifications.js';
import { FhirError } from '../fhir/outcome/http-errors.js';
import { STYLE_CSS, VALIDATE_JS, COORDINATION_JS } from './assets.js';
import { errorPage, notFoundPage } from './layout.js';
import { submissionPage, submissionsPage, type SubmissionsQuery } from './pages/submissions.js';
import { usagersPage, type UsagersQuery } from './pages/usagers.js';
import { usagerPage } from './pages/usager.js';
import { ppaPdfOf, projetVersionsPage, type VersionsQuery } from './pages/projet-versions.js';
import { revuesPage, type RevuesQuery } from './pages/revues.js';
import { DEFAULT_REVIEW_MONTHS } from '../coordination/ppa-reviews.js';
import { pilotagePage } from './pages/pilotage.js';
import { DOCUMENT_CSP, documentAttachment } from './pages/documents.js';

import { validateFormPage, validateResultPage } from './pages/validate.js';
import { journalPage, type JournalQuery } from './pages/journal.js';
import { registerExports } from './exports.js';
import { qualityPage, type QualityQuery } from './pages/quality.js';
import { rulePage, rulesListPage, type RulesQuery } from './pages/rules.js';
import { nearestRuleIds } from '../tddui/rule-index.js';
import { coordinationPage, registerCoordinationRoutes, type CoordinationQuery, type CoordinationWriter } from './pages/coordination.js';
import { notebooksPage } from './pages/notebooks.js';
import { agendaWeekPage, commonSlotPage, registerAgendaRoutes, type AgendaQuery, type FindQuery } from './pages/agenda.js';
import type { AgendaStore } from '../coordination/agenda/store.js';

export interface UiDeps {
  repo: Repository;
  validator: TdduiValidator;
  /**
   * OAuth 2.0 bearer tokens, as on the FHIR API: the pages show every facility's data, so they
   * need a token that reads every type (`system/*.read` or `user/*.read`); "Valider un fichier"
   * stores nothing and needs a valid token only. A browser gets there through an
   * authenticating reverse proxy that adds the Authorization header (docs/security.md).
   */
  auth?: Authenticator;
  /** The server's write interactions, for the Coordination page's forms (circle, notebook). */
  writer?: () => CoordinationWriter;
  /** The notification service (NdE in use), for the Notifications page. */
  notifications?: () => NotificationService | undefined;
  /** The shared agendas (GAP loaded): the week views and "Trouver un créneau commun". */
  agenda?: AgendaStore;
  /** Months after the usager's accord when a PPA is due for review (default 12; D-126). */
  reviewMonths?: number;
  /**
   * "Valider un fichier" answered off the event loop (the server's validation workers): the
   * page built from the form's raw bytes; `undefined` when no worker is ready (answered here).
   */
  validatePage?: (formBytes: Buffer) => Promise<{ status: number; html: string } | undefined>;
}

/** A "Valider un fichier" form larger than this goes to a validation worker whole (when one is ready). */
const VALIDATE_IN_WORKER_BYTES = 256 * 1024;

/** The raw bytes of a large "Valider un fichier" form, left to a validation worker (never decoded here). */
class DeferredForm {
  constructor(readonly bytes: Buffer) {}
}

function decodeForm(body: string): Record<string, string | string[]> {
  // A repeated field (the circle members chosen for a common slot) becomes an array.
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of new URLSearchParams(body)) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

/** The UI's pages only load what this server serves (no inline script or style, no CDN). */
const CSP = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/** Largest file accepted by "Valider un fichier" (form-encoded text, hence the margin). */
const VALIDATE_BODY_LIMIT = 64 * 1024 * 1024;

/**
 * The pages a token restricted to some organisations may open: those that filter what they show
 * by the token's organisations (lists, indicators, their CSV, a usager or submission of theirs),
 * and the validation form, which reads nothing stored. Every other page shows every ESSMS' data.
 */
const SCOPED_PAGES = [
  /^\/$/,
  /^\/envois(\.csv)?$/,
  /^\/envois\/[^/]+(\/(bundle\.json|rapport\.json|reponse\.json|rapport\.html))?$/,
  /^\/usagers(\.csv)?$/,
  /^\/usagers\/[^/]+(\/projet\/versions(\/\d+\/pdf)?)?$/,
  /^\/(pilotage|pilotage\.csv|revues|qualite|qualite\.csv|qualite\.json|journal)$/,
  /^\/documents\/[^/]+\/\d+$/,
  /^\/regles(\/[^/]+)?$/,
];

function scopedPage(method: string, path: string): boolean {
  if (path === '/valider') return method === 'GET' || method === 'POST';
  return (method === 'GET' || method === 'HEAD') && SCOPED_PAGES.some((re) => re.test(path));
}

function asset(body: string, type: string) {
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`;
  return (req: FastifyRequest, reply: FastifyReply) => {
    reply.header('cache-control', 'public, max-age=3600').header('etag', etag).type(type);
    if (req.headers['if-none-match'] === etag) return reply.code(304).send();
    return reply.send(body);
  };
}

function sendHtml(reply: FastifyReply, body: string, status = 200) {
  return reply.code(status).type('text/html; charset=utf-8').send(body);
}

function wantsHtml(req: FastifyRequest): boolean {
  const accept = req.headers.accept ?? '';
  return !req.url.startsWith('/fhir') && (accept.includes('text/html') || accept === '' || accept.includes('*/*')) && !accept.includes('fhir+');
}

/** Mounts the UI routes (everything outside `/fhir` and `/healthz`). */
export async function registerUi(app: FastifyInstance, deps: UiDeps): Promise<void> {
  const { repo, validator } = deps;

  // Unknown paths outside /fhir: a French page for browsers, an OperationOutcome otherwise.
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0];
    if (wantsHtml(req)) return sendHtml(reply, notFoundPage(`La page ${path} n’existe pas.`), 404);
    return reply
      .code(404)
      .type('application/fhir+json')
      .send({
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', code: 'not-found', diagnostics: `Not found: ${req.method} ${path}`, details: { text: `Introuvable : ${req.method} ${path}` } }],
      });
  });

  await app.register(async (ui) => {
    const auth = deps.auth;
    if (auth) {
      ui.addHook('onRequest', async (req, reply) => {
        const path = req.url.split('?')[0]!;
        if (path === '/ui/style.css' || path === '/ui/valider.js' || path === '/ui/notifications.js' || path === '/ui/coordination.js') return;
        try {
          const principal = await auth.authenticate(req.headers.authorization);
          noteActor(req, principal);
          // A person's token (fhirUser) sees their own notebooks only: the other pages show every
          // usager's data, which the circle of care restricts for persons (decisions.md D-53).
          if (principal.fhirUser) {
            // Their Notifications page too: it lists only the subscriptions whose subscriber they are.
            if ((path === '/mes-cahiers' || path === '/notifications') && req.method === 'GET') return;
            return sendHtml(reply, errorPage(`Votre jeton désigne une personne (${principal.fhirUser}) : seule la page « Mes cahiers de liaison » (/mes-cahiers) vous est ouverte, avec vos notifications (/notifications) ; les autres pages montrent les données de tous les usagers.`), 403);
          }
          // A token restricted to some organisations (its read scope, rest/access.ts, D-170) opens
          // the pages that filter by organisation only; the others would show every ESSMS' data.
          if (principal.readScope && !scopedPage(req.method, path)) {
            return sendHtml(reply, errorPage(`Votre jeton est limité à certains établissements (${describeScope(principal.readScope)}) : cette page, qui montre les données de tous les établissements, ne vous est pas ouverte. Pages ouvertes : Envois reçus, Usagers, Pilotage, Revues à prévoir, Qualité des envois, Journal des accès, Valider un fichier, Règles de validation.`), 403);
          }
          // The Journal des accès needs a scope naming AuditEvent (decisions.md D-90); the other pages read every type.
          if (path === '/journal') {
            if (!principal.canExplicitly('AuditEvent', 'read')) return sendHtml(reply, errorPage('Votre jeton ne permet pas de consulter le journal des accès (portée system/AuditEvent.read ou user/AuditEvent.read nécessaire).'), 403);
          } else if (path !== '/valider' && !principal.canAll('read')) {
            return sendHtml(reply, errorPage('Votre jeton ne permet pas de consulter les données reçues (portée system/*.read ou user/*.read nécessaire).'), 403);
          }
          // The Coordination forms write (circle, notebook): a token that writes is needed.
          if (req.method === 'POST' && (path.includes('/coordination/') || path.includes('/creneau-commun/') || path.endsWith('/repondre')) && !principal.canAll('write')) {
            return sendHtml(reply, errorPage('Votre jeton ne permet pas d’écrire (portée system/*.write ou user/*.write nécessaire).'), 403);
          }
        } catch (e) {
          if (!(e instanceof FhirError)) throw e;
          for (const [k, v] of Object.entries(e.headers)) reply.header(k, v);
          return sendHtml(reply, errorPage(e.text), e.status);
        }
      });
    }
    ui.addHook('onSend', async (_req, reply, payload) => {
      // A route may set a stricter or document-specific policy (attached documents do).
      if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', CSP);
      reply.header('x-content-type-options', 'nosniff').header('referrer-policy', 'same-origin');
      return payload;
    });
    ui.setErrorHandler((err: Error & { status?: number; statusCode?: number }, req, reply) => {
      const status = err instanceof FhirError ? err.status : (err.statusCode ?? 500);
      if (status >= 500) req.log.error({ err }, 'UI page failed');
      // French only: the framework's own message (English) goes to the log, not to the page.
      if (status < 500) req.log.info({ err }, 'UI request refused');
      const message =
        status === 413
          ? 'Le fichier est trop volumineux.'
          : status >= 500
            ? 'Une erreur interne est survenue ; elle a été consignée dans le journal du serveur.'
            : status === 415
              ? 'Requête invalide : ce type de contenu n’est pas accepté ici.'
              : 'Requête invalide : le contenu envoyé n’a pas pu être lu.';
      return sendHtml(reply, errorPage(message), status);
    });
    // Form posts of "Valider un fichier" (the file text travels in a form field).
    if (!ui.hasContentTypeParser('application/x-www-form-urlencoded')) {
      ui.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer', bodyLimit: VALIDATE_BODY_LIMIT }, (req, body, done) => {
        try {
          const bytes = typeof body === 'string' ? Buffer.from(body) : body;
          if (deps.validatePage && bytes.length > VALIDATE_IN_WORKER_BYTES && req.method === 'POST' && req.url.split('?')[0] === '/valider') {
            done(null, new DeferredForm(bytes));
            return;
          }
          done(null, decodeForm(bytes.toString('utf8')));
        } catch (e) {
          done(e as Error, undefined);
        }
      });
    }

    ui.get('/ui/style.css', asset(STYLE_CSS, 'text/css; charset=utf-8'));
    ui.get('/ui/valider.js', asset(VALIDATE_JS, 'text/javascript; charset=utf-8'));
    ui.get('/ui/notifications.js', asset(NOTIFICATIONS_JS, 'text/javascript; charset=utf-8'));
    ui.get('/notifications', async (req, reply) => {
      reply.header('content-security-policy', NOTIFICATIONS_CSP);
      return sendHtml(reply, await notificationsPage(deps.notifications?.(), deps.auth ? actorOf(req)?.fhirUser : undefined));
    });
    ui.get('/ui/coordination.js', asset(COORDINATION_JS, 'text/javascript; charset=utf-8'));

    /** The organisations the request's token may read (undefined: every one; rest/access.ts). */
    const scopeOf = (req: FastifyRequest): ReadScope | undefined => (auth ? actorOf(req)?.readScope : undefined);
    /** For a restricted token: false when the usager (or document) is not of its organisations — a "not found" page. */
    const visible = async (req: FastifyRequest, type: 'Patient' | 'DocumentReference', id: string): Promise<boolean> => {
      const scope = scopeOf(req);
      if (!scope) return true;
      return repo.read(type, id, { scope }).then(() => true, () => false);
    };
    const list = async (req: FastifyRequest<{ Querystring: SubmissionsQuery }>, reply: FastifyReply) => sendHtml(reply, await submissionsPage(repo, req.query ?? {}, scopeOf(req)));
    ui.get('/', list);
    ui.get('/envois', list);
    ui.get<{ Params: { id: string } }>('/envois/:id', async (req, reply) => {
      const body = await submissionPage(repo, req.params.id, scopeOf(req));
      return body ? sendHtml(reply, body) : sendHtml(reply, notFoundPage(`L’envoi ${req.params.id} est introuvable.`), 404);
    });
    const download = (part: 'bundle' | 'report' | 'response', name: string) =>
      ui.get<{ Params: { id: string } }>(`/envois/:id/${name}`, async (req, reply) => {
        const scope = scopeOf(req);
        const s = await repo.getSubmission(req.params.id, scope ? { scope } : {});
        const value = s?.[part];
        if (value === undefined) return sendHtml(reply, notFoundPage('Document introuvable pour cet envoi.'), 404);
        return reply
          .type('application/fhir+json; charset=utf-8')
          .header('content-disposition', `attachment; filename="envoi-${req.params.id.replace(/[^A-Za-z0-9-]/g, '')}-${name}"`)
          .send(JSON.stringify(value, null, 2));
      });
    download('bundle', 'bundle.json');
    download('report', 'rapport.json');
    download('response', 'reponse.json');

    ui.get<{ Querystring: UsagersQuery }>('/usagers', async (req, reply) => sendHtml(reply, await usagersPage(repo, req.query ?? {}, scopeOf(req))));
    ui.get<{ Params: { id: string }; Querystring: { semaine?: string } }>('/usagers/:id', async (req, reply) => {
      // (A restricted token: every resource the page reads is of its organisations too.)
      const body = (await visible(req, 'Patient', req.params.id)) ? await usagerPage(scopedRepository(repo, scopeOf(req)), validator, req.params.id, req.query ?? {}) : undefined;
      return body ? sendHtml(reply, body) : sendHtml(reply, notFoundPage(`L’usager ${req.params.id} est introuvable.`), 404);
    });
    ui.get<{ Params: { id: string }; Querystring: VersionsQuery }>('/usagers/:id/projet/versions', async (req, reply) => {
      const body = (await visible(req, 'Patient', req.params.id)) ? await projetVersionsPage(scopedRepository(repo, scopeOf(req)), validator, req.params.id, req.query ?? {}) : undefined;
      return body ? sendHtml(reply, body) : sendHtml(reply, notFoundPage(`L’usager ${req.params.id} est introuvable.`), 404);
    });
    // The PDF of one version of the PPA (deterministic: the same version gives the same bytes).
    ui.get<{ Params: { id: string; n: string } }>('/usagers/:id/projet/versions/:n/pdf', async (req, reply) => {
      const n = /^\d{1,6}$/.test(req.params.n) ? Number(req.params.n) : -1;
      const pdf = n < 1 || !(await visible(req, 'Patient', req.params.id)) ? undefined : await ppaPdfOf(scopedRepository(repo, scopeOf(req)), validator, req.params.id, n);
      if (!pdf) return sendHtml(reply, notFoundPage('Cette version du projet personnalisé est introuvable.'), 404);
      return reply
        .header('content-type', 'application/pdf')
        .header('content-disposition', `inline; filename="${pdf.fileName}"`)
        .header('x-content-type-options', 'nosniff')
        .header('cache-control', 'private, no-store')
        .header('content-security-policy', DOCUMENT_CSP)
        .send(pdf.bytes);
    });
    ui.get<{ Params: { id: string }; Querystring: CoordinationQuery }>('/usagers/:id/coordination', async (req, reply) => {
      const body = await coordinationPage(repo, req.params.id, req.query ?? {});
      return body ? sendHtml(reply, body) : sendHtml(reply, notFoundPage(`L’usager ${req.params.id} est introuvable.`), 404);
    });
    if (deps.writer) registerCoordinationRoutes(ui, repo, deps.writer);
    ui.get<{ Querystring: { personne?: string } }>('/mes-cahiers', async (req, reply) => {
      const me = actorOf(req)?.fhirUser;
      if (me?.startsWith('Patient/')) return sendHtml(reply, errorPage('Cette page montre les cahiers de liaison accessibles à un professionnel ou à un proche ; l’usager consulte le sien par l’API FHIR.'), 403);
      return sendHtml(reply, await notebooksPage(repo, me ?? (req.query?.personne || undefined), { choose: !me }));
    });
    const agenda = deps.agenda;
    const noAgenda = (reply: FastifyReply) => sendHtml(reply, notFoundPage('Les agendas partagés ne sont pas activés sur ce serveur (démarrez-le avec --ig ans.fhir.fr.gap).'), 404);
    ui.get<{ Params: { type: string; id: string }; Querystring: AgendaQuery }>('/agendas/:type/:id', async (req, reply) => {
      if (!agenda) return noAgenda(reply);
      const { type, id } = req.params;
      const body = /^(Patient|Practitioner|PractitionerRole)$/.test(type) ? await agendaWeekPage(agenda, `${type}/${id}`, req.query ?? {}) : undefined;
      return body ? sendHtml(reply, body) : sendHtml(reply, notFoundPage(`L’agenda ${type}/${id} est introuvable.`), 404);
    });
    ui.get<{ Params: { id: string }; Querystring: FindQuery }>('/usagers/:id/creneau-commun', async (req, reply) => {
      if (!agenda) return noAgenda(reply);
      const body = await commonSlotPage(agenda, req.params.id, req.query ?? {});
      return body ? sendHtml(reply, body) : sendHtml(reply, notFoundPage(`L’usager ${req.params.id} est introuvable.`), 404);
    });
    if (agenda && deps.writer) registerAgendaRoutes(ui, agenda, deps.writer);
    // The attached documents (PDF of a projet personnalisé, of an evaluation…), by their
    // DocumentReference id and the index of the attachment in `content`.
    ui.get<{ Params: { id: string; n: string }; Querystring: { telecharger?: string } }>('/documents/:id/:n', async (req, reply) => {
      const n = /^\d{1,3}$/.test(req.params.n) ? Number(req.params.n) : -1;
      const found = n < 0 || !(await visible(req, 'DocumentReference', req.params.id)) ? 'not-found' : await documentAttachment(scopedRepository(repo, scopeOf(req)), req.params.id, n, req.query?.telecharger !== undefined);
      if (found === 'not-found') return sendHtml(reply, notFoundPage('Ce document est introuvable.'), 404);
      if (found === 'no-data') return sendHtml(reply, notFoundPage('Le contenu de ce document n’a pas été transmis (pièce jointe vide ou simple lien).'), 404);
      reply.header('content-type', found.contentType).header('content-disposition', found.contentDisposition).header('cache-control', 'private, no-store');
      if (found.disposition === 'inline') reply.header('content-security-policy', DOCUMENT_CSP);
      return reply.send(found.bytes);
    });
    ui.get<{ Querystring: Record<string, string | undefined> }>('/pilotage', async (req, reply) => sendHtml(reply, await pilotagePage(repo, req.query ?? {}, deps.reviewMonths ?? DEFAULT_REVIEW_MONTHS, scopeOf(req))));
    ui.get<{ Querystring: RevuesQuery }>('/revues', async (req, reply) => sendHtml(reply, await revuesPage(repo, req.query ?? {}, deps.reviewMonths ?? DEFAULT_REVIEW_MONTHS, scopeOf(req))));

    registerExports(ui, repo, scopeOf, deps.reviewMonths ?? DEFAULT_REVIEW_MONTHS);
    ui.get<{ Querystring: QualityQuery }>('/qualite', async (req, reply) => sendHtml(reply, await qualityPage(await repo.reader(), req.query ?? {}, scopeOf(req))));
    ui.get<{ Querystring: JournalQuery }>('/journal', async (req, reply) => sendHtml(reply, await journalPage(await repo.reader(), req.query ?? {}, scopeOf(req))));

    ui.get('/valider', async (_req, reply) => sendHtml(reply, validateFormPage()));
    // The rules' explanations (the catalogue, no stored data): linked from reports and Qualité.
    ui.get<{ Querystring: RulesQuery }>('/regles', async (req, reply) => sendHtml(reply, rulesListPage(req.query ?? {})));
    ui.get<{ Params: { id: string } }>('/regles/:id', async (req, reply) => {
      const body = rulePage(req.params.id);
      if (body) return sendHtml(reply, body);
      const near = nearestRuleIds(req.params.id, 3);
      return sendHtml(reply, notFoundPage(`La règle ${req.params.id} n’existe pas${near.length ? ` ; règles proches : ${near.join(', ')}` : ''}. La liste complète est sur /regles.`), 404);
    });
    ui.post<{ Body: { contenu?: string; nom?: string } | DeferredForm }>('/valider', { bodyLimit: VALIDATE_BODY_LIMIT }, async (req, reply) => {
      if (req.body instanceof DeferredForm) {
        // A large file: decoded, validated and reported by a worker; here only when none is ready.
        const done = await deps.validatePage!(req.body.bytes);
        if (done) return sendHtml(reply, done.html, done.status);
        req.body = decodeForm(req.body.bytes.toString('utf8')) as { contenu?: string; nom?: string };
      }
      const b = req.body && typeof req.body === 'object' ? (req.body as { contenu?: string; nom?: string }) : {};
      const r = validateResultPage(validator, typeof b.contenu === 'string' ? b.contenu : '', typeof b.nom === 'string' && b.nom ? b.nom.slice(0, 200) : undefined);
      return sendHtml(reply, r.html, r.status);
    });
  });
}

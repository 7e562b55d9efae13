// The agenda operations of the FHIR API (GAP loaded): `Appointment/$find` (the common free slot),
// `Appointment/$book` (book a proposal: pending, participants needs-action) and
// `Appointment/{id}/$respond` (a participant accepts or declines). The logic is in
// src/coordination/agenda/find.ts; writes go through the one write path (FhirService), so the
// double-booking check (409) and the events of the outbox apply.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { bookingOf, circleMembers, findCommonSlots, respond, type FindRequest } from '../coordination/agenda/find.js';
import { GAP_PACKAGE } from '../coordination/agenda/gap-module.js';
import { refOf } from '../coordination/agenda/availability.js';
import { AgendaStore, badRequest } from '../coordination/agenda/store.js';
import { agendaCalendar, createFeed, feedOf, revokeFeed } from '../coordination/agenda/ical.js';
import { parseDateTime } from '../coordination/agenda/time.js';
import { isObject, isResource, type FhirResource, type Json } from '../fhir/json.js';
import { requireUnrestricted, type Actor } from '../rest/access.js';
import type { FhirService, WriteAnswer } from '../rest/service.js';
import { FhirError, HTTP_ERRORS } from './outcome.js';
import { queryPairs } from './search.js';
import type { Access } from './auth.js';

export interface AgendaRouteDeps {
  service: FhirService;
  send(reply: FastifyReply, status: number, resource: object): unknown;
  sendWrite(req: FastifyRequest, reply: FastifyReply, a: WriteAnswer): unknown;
  requireAccess(req: FastifyRequest, access: Access, ...types: string[]): void;
  actorOf(req: FastifyRequest): Actor | undefined;
  baseUrl(req: FastifyRequest): string;
}

/** The agenda store of the GAP module in use, if GAP is loaded. */
export function agendaStoreOf(service: FhirService): AgendaStore | undefined {
  const m = service.modules.find((x) => x.name === GAP_PACKAGE) as { store?: AgendaStore } | undefined;
  return m?.store;
}

/** Name/value pairs of an operation: the query string, or a Parameters body. */
function operationParams(req: FastifyRequest): [string, unknown][] {
  const out: [string, unknown][] = queryPairs(req.url);
  const body = req.body as Json | undefined;
  if (isObject(body) && body.resourceType === 'Parameters') {
    for (const p of Array.isArray(body.parameter) ? body.parameter : []) {
      if (!isObject(p) || typeof p.name !== 'string') continue;
      const key = Object.keys(p).find((k) => k.startsWith('value') || k === 'resource');
      out.push([p.name, key ? p[key] : undefined]);
    }
  }
  return out;
}

function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (isObject(v) && typeof v.reference === 'string') return v.reference;
  if (isObject(v) && typeof v.value === 'number') return String(v.value);
  return undefined;
}

export function parseFind(pairs: [string, unknown][], now: Date): FindRequest {
  const all = (n: string) => pairs.filter(([k]) => k === n).flatMap(([, v]) => (text(v) ?? '').split(',')).filter(Boolean);
  const one = (n: string) => all(n)[0];
  const patient = one('patient') ?? '';
  const professionals = [...all('practitioner'), ...all('actor')].map((r) => refOf(r) ?? r);
  const minutes = Number(one('duration') ?? NaN);
  const start = one('start') !== undefined ? parseDateTime(one('start')) : now.getTime();
  const end = one('end') !== undefined ? parseDateTime(one('end')) : (start ?? now.getTime()) + 14 * 86_400_000;
  if (start === undefined) throw badRequest('start is not a date or dateTime', 'start n’est pas une date', 'start');
  if (end === undefined) throw badRequest('end is not a date or dateTime', 'end n’est pas une date', 'end');
  const req: FindRequest = { patient: refOf(patient) ?? patient, professionals, minutes, window: { start, end } };
  const step = one('step');
  if (step !== undefined) req.step = Number(step);
  const count = one('_count') ?? one('count');
  if (count !== undefined) {
    const n = Number(count);
    if (!Number.isInteger(n) || n < 1 || n > 200) throw badRequest('_count is between 1 and 200', '_count est compris entre 1 et 200', '_count');
    req.count = n;
  }
  const rank = one('rank');
  if (rank !== undefined) {
    if (rank !== 'earliest' && rank !== 'spread') throw badRequest('rank is earliest or spread', 'rank vaut earliest ou spread', 'rank');
    req.rank = rank;
  }
  const withPatient = one('include-patient');
  if (withPatient !== undefined) req.withPatient = withPatient !== 'false';
  return req;
}

export function agendaRoutes(app: FastifyInstance, deps: AgendaRouteDeps): void {
  const { service } = deps;
  const store = () => {
    const s = agendaStoreOf(service);
    if (!s) throw new FhirError(HTTP_ERRORS.UNKNOWN_ENDPOINT, { method: 'POST', path: '/fhir/Appointment/$find (GAP not loaded)' });
    return s;
  };
  /** A person (fhirUser) may look for the usager's agenda only as the usager or a member of the circle. */
  const requireMemberOrUsager = async (req: FastifyRequest, patient: string) => {
    const me = deps.actorOf(req)?.fhirUser;
    if (!me || me === patient) return;
    const members = await circleMembers(service.repo, patient, store().clock());
    if (!members.has(me)) {
      throw new FhirError(HTTP_ERRORS.FORBIDDEN, { detail: `${me} is not an active member of the circle of care of ${patient}`, detailFr: `${me} n’est pas membre actif du cercle de soins de ${patient}` });
    }
  };

  const find = async (req: FastifyRequest, reply: FastifyReply) => {
    deps.requireAccess(req, 'read', 'Appointment', 'Schedule', 'CareTeam');
    // The agendas have no organisation to restrict them to: refused to a restricted token (D-170).
    requireUnrestricted(deps.actorOf(req), { en: 'The agenda operations', fr: 'Les opérations d’agenda' });
    const s = store();
    const request = parseFind(operationParams(req), s.clock());
    await requireMemberOrUsager(req, request.patient);
    const result = await findCommonSlots(s, request);
    const n = result.proposals.length;
    return deps.send(reply, 200, {
      resourceType: 'Bundle',
      type: 'searchset',
      total: n,
      entry: result.proposals.map((p, i) => ({ resource: p, search: { mode: 'match', score: n > 1 ? Number((1 - i / n).toFixed(3)) : 1 } })),
    });
  };
  app.get('/Appointment/$find', find);
  app.post('/Appointment/$find', find);

  // --- private iCalendar feeds (coordination/agenda/ical.ts) -----------------------------
  /** A person manages the feeds of their own agenda (and a Practitioner those of their roles); a system client any. */
  const requireOwnAgenda = async (req: FastifyRequest, subject: string) => {
    const me = deps.actorOf(req)?.fhirUser;
    if (!me || me === subject) return;
    if (me.startsWith('Practitioner/') && subject.startsWith('PractitionerRole/')) {
      const role = await service.repo.read('PractitionerRole', subject.slice(17)).catch(() => undefined);
      if (role && refOf(role.resource.practitioner) === me) return;
    }
    throw new FhirError(HTTP_ERRORS.FORBIDDEN, { detail: `${me} may not manage the calendar feeds of ${subject}`, detailFr: `${me} ne peut pas gérer les flux d’agenda de ${subject}` });
  };
  app.post('/Appointment/$feed', async (req, reply) => {
    deps.requireAccess(req, 'write', 'Appointment');
    // The agendas have no organisation to restrict them to: refused to a restricted token (D-170).
    requireUnrestricted(deps.actorOf(req), { en: 'The agenda operations', fr: 'Les opérations d’agenda' });
    store();
    const pairs = operationParams(req);
    const subject = refOf(text(pairs.find(([k]) => k === 'subject')?.[1]));
    if (!subject || !/^(Patient|Practitioner|PractitionerRole)\//.test(subject)) throw badRequest('subject is the Patient, Practitioner or PractitionerRole whose agenda the feed shows', 'subject désigne le Patient, le Practitioner ou le PractitionerRole dont le flux montre l’agenda', 'subject');
    await service.repo.read(subject.split('/')[0]!, subject.split('/')[1]!);
    await requireOwnAgenda(req, subject);
    const label = text(pairs.find(([k]) => k === 'label')?.[1]) ?? '';
    const token = await createFeed(service.repo, subject, label.slice(0, 200));
    const url = `${deps.baseUrl(req).replace(/\/fhir$/, '')}/agenda/${token}.ics`;
    return deps.send(reply.code(201), 201, { resourceType: 'Parameters', parameter: [{ name: 'url', valueUrl: url }, { name: 'subject', valueReference: { reference: subject } }] });
  });
  app.post('/Appointment/$feed-revoke', async (req, reply) => {
    deps.requireAccess(req, 'write', 'Appointment');
    // The agendas have no organisation to restrict them to: refused to a restricted token (D-170).
    requireUnrestricted(deps.actorOf(req), { en: 'The agenda operations', fr: 'Les opérations d’agenda' });
    const pairs = operationParams(req);
    const given = text(pairs.find(([k]) => k === 'url' || k === 'token')?.[1]) ?? '';
    const token = /([A-Za-z0-9_-]{43})(?:\.ics)?$/.exec(given)?.[1];
    const feed = token ? await feedOf(service.repo, token) : undefined;
    if (!token || !feed) throw new FhirError(HTTP_ERRORS.FEED_UNKNOWN, {}, { expression: 'url' });
    await requireOwnAgenda(req, feed.subject);
    await revokeFeed(service.repo, token);
    return deps.send(reply, 200, { resourceType: 'Parameters', parameter: [{ name: 'revoked', valueBoolean: true }, { name: 'subject', valueReference: { reference: feed.subject } }] });
  });

  app.post('/Appointment/$book', async (req, reply) => {
    deps.requireAccess(req, 'write', 'Appointment');
    // The agendas have no organisation to restrict them to: refused to a restricted token (D-170).
    requireUnrestricted(deps.actorOf(req), { en: 'The agenda operations', fr: 'Les opérations d’agenda' });
    const s = store();
    const pairs = operationParams(req);
    const body = req.body as Json | undefined;
    const proposal = (isObject(body) && body.resourceType === 'Appointment' ? body : pairs.find(([k, v]) => k === 'appointment' && isResource(v))?.[1]) as FhirResource | undefined;
    if (!proposal || proposal.resourceType !== 'Appointment') throw badRequest('$book takes the proposed Appointment (the body, or the parameter "appointment")', '$book prend le rendez-vous proposé (le corps, ou le paramètre « appointment »)', 'appointment');
    const actors = (Array.isArray(proposal.participant) ? proposal.participant : []).map((p) => refOf(isObject(p) ? p.actor : undefined)).filter((x): x is string => !!x);
    const patient = actors.find((a) => a.startsWith('Patient/'));
    if (!patient) throw badRequest('The appointment names no usager (a Patient participant)', 'Le rendez-vous ne désigne aucun usager (participant Patient)', 'Appointment.participant');
    await requireMemberOrUsager(req, patient);
    const members = await circleMembers(service.repo, patient, s.clock());
    for (const a of actors) {
      if (a !== patient && !members.has(a)) throw new FhirError(HTTP_ERRORS.AGENDA_NOT_A_MEMBER, { member: a, patient }, { expression: 'Appointment.participant' });
    }
    const answer = await service.create('Appointment', bookingOf(proposal, deps.actorOf(req)?.fhirUser));
    return deps.sendWrite(req, reply, answer);
  });

  app.post<{ Params: { id: string } }>('/Appointment/:id/$respond', async (req, reply) => {
    deps.requireAccess(req, 'write', 'Appointment');
    // The agendas have no organisation to restrict them to: refused to a restricted token (D-170).
    requireUnrestricted(deps.actorOf(req), { en: 'The agenda operations', fr: 'Les opérations d’agenda' });
    const pairs = operationParams(req);
    const me = deps.actorOf(req)?.fhirUser;
    const given = pairs.find(([k]) => k === 'actor')?.[1];
    const actor = refOf(text(given)) ?? me;
    if (!actor) throw badRequest('Say who answers (parameter actor)', 'Indiquez qui répond (paramètre actor)', 'actor');
    if (me && actor !== me) {
      // A practitioner answers for their own roles only.
      const mine = me.startsWith('Practitioner/') && actor.startsWith('PractitionerRole/') ? refOf((await service.repo.read('PractitionerRole', actor.slice(17))).resource.practitioner) === me : false;
      if (!mine) throw new FhirError(HTTP_ERRORS.FORBIDDEN, { detail: `${me} may not answer for ${actor}`, detailFr: `${me} ne peut pas répondre pour ${actor}` });
    }
    const answer = text(pairs.find(([k]) => k === 'answer')?.[1]);
    if (answer !== 'accepted' && answer !== 'declined' && answer !== 'tentative') throw badRequest('answer is accepted, declined or tentative', 'answer vaut accepted, declined ou tentative', 'answer');
    const current = await service.repo.read('Appointment', req.params.id);
    const updated = respond(current.resource, actor, answer);
    const result = await service.update('Appointment', { id: req.params.id }, { ...updated, id: req.params.id }, { ifMatch: current.versionId });
    return deps.sendWrite(req, reply, result);
  });
}

/**
 * `GET /agenda/<token>.ics`: the feed, for calendar applications (no bearer token: the URL's
 * token is the credential; unknown or revoked: 404). Registered at the server's root.
 */
export async function agendaFeedRoutes(app: FastifyInstance, opts: { service: FhirService }): Promise<void> {
  app.get<{ Params: { file: string } }>('/:file', async (req, reply) => {
    const store = agendaStoreOf(opts.service);
    const token = /^([A-Za-z0-9_-]{43})\.ics$/.exec(req.params.file)?.[1];
    const feed = store && token ? await feedOf(opts.service.repo, token) : undefined;
    if (!store || !feed) {
      const e = new FhirError(HTTP_ERRORS.FEED_UNKNOWN);
      return reply.code(404).type('text/plain; charset=utf-8').send(`${e.text}\n${e.message}\n`);
    }
    const body = await agendaCalendar(store, feed.subject, store.clock(), feed.label || undefined);
    return reply.code(200).type('text/calendar; charset=utf-8').header('content-disposition', 'inline; filename="agenda.ics"').send(body);
  });
}

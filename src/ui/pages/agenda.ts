// Shared agendas in the UI (issue 16, GAP): the week of a professional (their appointments and
// free slots) or of a usager (their appointments, the DUI's agenda events among them), with
// accept / decline for the invitations waiting for an answer; "Trouver un créneau commun":
// choose members of the usager's circle, a duration and a period, see the proposals of
// `$find`, book one (a pending appointment each participant answers). Every write goes through
// the server's FHIR interactions (double booking refused, events of the outbox recorded).
import type { FastifyInstance } from 'fastify';
import { refOf } from '../../coordination/agenda/availability.js';
import { bookingOf, circleMembers, findCommonSlots, proposal, respond, type FindRequest } from '../../coordination/agenda/find.js';
import { AgendaStore } from '../../coordination/agenda/store.js';
import { FROM_EVENT_SYSTEM } from '../../coordination/agenda/usager-agenda.js';
import { fromWall, isoLocal, parseDateTime, toWall } from '../../coordination/agenda/time.js';
import { nameOf } from '../../coordination/proposals.js';
import { isObject, type FhirResource } from '../../fhir/json.js';
import { FhirError } from '../../fhir/outcome/http-errors.js';
import type { Repository } from '../../storage/types.js';
import { html, type SafeHtml } from '../html.js';
import { page } from '../layout.js';
import type { CoordinationWriter } from './coordination.js';
import { plural } from '../../fhir/outcome/plural.js';

const DAY = 86_400_000;
const DAYS = ['lundi', 'mardi', 'mercredi', 'jeudi', 'vendredi', 'samedi', 'dimanche'];
const STATUS_FR: Record<string, string> = {
  booked: 'confirmé',
  pending: 'en attente de réponses',
  proposed: 'demandé',
  arrived: 'en cours',
  'checked-in': 'en cours',
  fulfilled: 'réalisé',
  cancelled: 'annulé',
  noshow: 'absent',
  'entered-in-error': 'erreur',
};
const ANSWER_FR: Record<string, string> = { accepted: 'a accepté', declined: 'a décliné', tentative: 'peut-être', 'needs-action': 'n’a pas répondu' };

const seg = (s: string) => encodeURIComponent(s);
const hhmm = (t: number) => isoLocal(t).slice(11, 16);
const frDate = (t: number) => {
  const s = isoLocal(t);
  return `${s.slice(8, 10)}/${s.slice(5, 7)}/${s.slice(0, 4)}`;
};

async function nameFor(repo: Repository, key: string): Promise<string> {
  const [type, id] = key.split('/') as [string, string];
  const r = await repo.read(type, id).then((x) => x.resource, () => undefined);
  if (!r) return key;
  if (r.resourceType === 'PractitionerRole') {
    const p = refOf(r.practitioner);
    if (p) {
      const pr = await repo.read('Practitioner', p.split('/')[1]!).then((x) => x.resource, () => undefined);
      if (pr) return nameOf(pr) ?? key;
    }
  }
  return nameOf(r) ?? (typeof r.name === 'string' ? r.name : key);
}

/** Monday 00:00 (wall clock) of the week holding `day` (YYYY-MM-DD), or of now. */
function mondayOf(day: string | undefined, now: Date): number {
  const t = day && /^\d{4}-\d{2}-\d{2}$/.test(day) ? parseDateTime(day)! : now.getTime();
  const wall = Math.floor(toWall(t) / DAY) * DAY;
  const wd = (new Date(wall).getUTCDay() + 6) % 7;
  return wall - wd * DAY;
}

export interface AgendaQuery {
  semaine?: string;
  message?: string;
}

/** The week view of `Type/id` (Patient, Practitioner, PractitionerRole). */
export async function agendaWeekPage(store: AgendaStore, subject: string, q: AgendaQuery, now = new Date()): Promise<string | undefined> {
  const repo = store.repo;
  const [type, id] = subject.split('/') as [string, string];
  const owner = await repo.read(type, id).then((r) => r.resource, () => undefined);
  if (!owner) return undefined;
  const who = await nameFor(repo, subject);
  const refs = await store.actorRefs(subject);
  const mondayWall = mondayOf(q.semaine, now);
  const window = { start: fromWall(mondayWall), end: fromWall(mondayWall + 7 * DAY) };
  const appts = await store.actorAppointments(refs, window, 500);
  const schedules = await store.schedulesOf(refs);
  const free = schedules.length ? (await store.slotsOf(schedules, window)).filter((x) => x.slot.status === 'free') : [];
  const names = new Map<string, string>();
  const items: { start: number; end: number; html: SafeHtml }[] = [];
  const base = `/agendas/${seg(type)}/${seg(id)}`;
  for (const { resource: a } of appts.matches) {
    const start = parseDateTime(a.start);
    const end = parseDateTime(a.end) ?? start;
    if (start === undefined || end === undefined || end <= window.start || start >= window.end) continue;
    const parts = (Array.isArray(a.participant) ? a.participant : []).filter(isObject);
    for (const p of parts) {
      const k = refOf(p.actor);
      if (k && !names.has(k)) names.set(k, await nameFor(repo, k));
    }
    const fromDui = (Array.isArray(a.identifier) ? a.identifier : []).some((i) => isObject(i) && i.system === FROM_EVENT_SYSTEM);
    const mine = parts.find((p) => refs.includes(refOf(p.actor) ?? ''));
    const waiting = mine && mine.status === 'needs-action' && (a.status === 'pending' || a.status === 'proposed');
    const st = String(a.status);
    items.push({
      start,
      end,
      html: html`<li class="${`rdv rdv-${st}`}" data-id="${String(a.id)}"><span class="when">${hhmm(start)}–${hhmm(end)}</span> <strong>${typeof a.description === 'string' ? a.description : 'Rendez-vous'}</strong> <span class="badge">${STATUS_FR[st] ?? st}</span>${fromDui ? html` <span class="badge badge-dui">Évènement du DUI</span>` : ''}
<ul class="participants">${parts.map((p) => html`<li>${names.get(refOf(p.actor) ?? '') ?? refOf(p.actor) ?? ''} <span class="muted">(${ANSWER_FR[String(p.status)] ?? String(p.status)})</span></li>`)}</ul>
${waiting
  ? html`<form method="post" action="${`${base}/repondre`}" class="inline"><input type="hidden" name="rdv" value="${String(a.id)}"><input type="hidden" name="acteur" value="${refOf(mine!.actor) ?? ''}"><input type="hidden" name="semaine" value="${isoLocal(window.start).slice(0, 10)}"><button type="submit" name="reponse" value="accepted">Accepter</button> <button type="submit" name="reponse" value="declined">Décliner</button></form>`
  : ''}</li>`,
    });
  }
  for (const f of free) items.push({ start: f.slot.start, end: f.slot.end, html: html`<li class="libre"><span class="when">${hhmm(f.slot.start)}–${hhmm(f.slot.end)}</span> créneau libre</li>` });
  items.sort((x, y) => x.start - y.start);
  const days = [...Array(7).keys()].map((d) => {
    const s = fromWall(mondayWall + d * DAY);
    const e = fromWall(mondayWall + (d + 1) * DAY);
    const mineToday = items.filter((i) => i.start >= s && i.start < e);
    return html`<section class="jour"><h3>${DAYS[d]!} ${frDate(s)}</h3>${mineToday.length ? html`<ul class="agenda-items">${mineToday.map((i) => i.html)}</ul>` : html`<p class="muted">—</p>`}</section>`;
  });
  const weekParam = (t: number) => isoLocal(fromWall(t)).slice(0, 10);
  const nav = html`<p class="week-nav"><a href="${`${base}?semaine=${weekParam(mondayWall - 7 * DAY)}`}">← Semaine précédente</a> · Semaine du ${frDate(window.start)} · <a href="${`${base}?semaine=${weekParam(mondayWall + 7 * DAY)}`}">Semaine suivante →</a></p>`;
  const findLink = type === 'Patient' ? html`<p><a class="button" href="${`/usagers/${seg(id)}/creneau-commun`}">Trouver un créneau commun</a></p>` : '';
  const message = q.message ? html`<p class="notice" role="status">${q.message}</p>` : '';
  return page({
    title: `Agenda — ${who}`,
    section: 'usagers',
    crumbs: type === 'Patient' ? [['Usagers', '/usagers'], [who, `/usagers/${seg(id)}`]] : [],
    body: html`<h1>Agenda — ${who}</h1>${message}${nav}${findLink}
<p class="muted">${schedules.length ? `${plural(schedules.length, 'agenda', 'agendas')} de disponibilités ; ` : ''}${items.filter((i) => i.html.value.includes('class="rdv')).length} rendez-vous cette semaine${free.length ? `, ${free.length} créneaux libres` : ''}.</p>
<div class="semaine">${days}</div>`,
  });
}

export interface FindQuery {
  membres?: string | string[];
  duree?: string;
  debut?: string;
  fin?: string;
  usager?: string;
  message?: string;
}

/** "Trouver un créneau commun" for a usager: the form, and the proposals when asked. */
export async function commonSlotPage(store: AgendaStore, patientId: string, q: FindQuery, now = new Date()): Promise<string | undefined> {
  const repo = store.repo;
  const patient = `Patient/${patientId}`;
  const p = await repo.read('Patient', patientId).then((r) => r.resource, () => undefined);
  if (!p) return undefined;
  const who = nameOf(p) ?? patientId;
  const members = [...(await circleMembers(repo, patient, now))].filter((m) => /^(Practitioner|PractitionerRole)\//.test(m));
  // A PractitionerRole member stands for its Practitioner: offer the role (it keeps the Schedule).
  const offered = members.filter((m) => m.startsWith('PractitionerRole/') || !members.some((o) => o.startsWith('PractitionerRole/')));
  const labels = new Map<string, string>();
  for (const m of offered) labels.set(m, await nameFor(repo, m));
  const chosen = (Array.isArray(q.membres) ? q.membres : q.membres ? [q.membres] : []).filter((m) => offered.includes(m));
  const today = isoLocal(now.getTime()).slice(0, 10);
  const debut = q.debut && /^\d{4}-\d{2}-\d{2}$/.test(q.debut) ? q.debut : today;
  const fin = q.fin && /^\d{4}-\d{2}-\d{2}$/.test(q.fin) ? q.fin : isoLocal(parseDateTime(debut)! + 14 * DAY).slice(0, 10);
  const duree = q.duree && /^\d{1,4}$/.test(q.duree) ? Number(q.duree) : 30;
  const base = `/usagers/${seg(patientId)}/creneau-commun`;
  const form = html`<form method="get" action="${base}" class="card find-form"><h2>Participants et période</h2>
${offered.length
    ? html`<fieldset><legend>Membres du cercle</legend>${offered.map((m) => html`<label class="check"><input type="checkbox" name="membres" value="${m}"${chosen.includes(m) ? html` checked` : ''}> ${labels.get(m) ?? m}</label>`)}</fieldset>`
    : html`<p class="muted">Le cercle de ${who} n’a aucun professionnel actif.</p>`}
<label class="check"><input type="checkbox" name="usager" value="non"${q.usager === 'non' ? html` checked` : ''}> Sans l’usager (ses rendez-vous ne comptent pas)</label>
<label>Durée (minutes) <input type="number" name="duree" min="5" max="480" step="5" value="${String(duree)}"></label>
<label>Du <input type="date" name="debut" value="${debut}"></label>
<label>Au <input type="date" name="fin" value="${fin}"></label>
<button type="submit">Chercher</button></form>`;
  let results: SafeHtml | string = '';
  if (chosen.length) {
    const req: FindRequest = { patient, professionals: chosen, minutes: duree, window: { start: parseDateTime(debut)!, end: parseDateTime(fin)! + DAY }, count: 12, withPatient: q.usager !== 'non' };
    try {
      const r = await findCommonSlots(store, req);
      results = r.proposals.length
        ? html`<section class="card" id="propositions"><h2>Propositions</h2><ol class="proposals">${r.proposals.map((a) => {
            const s = parseDateTime(a.start)!;
            const e = parseDateTime(a.end)!;
            return html`<li class="proposal"><strong>${DAYS[(new Date(toWall(s)).getUTCDay() + 6) % 7]!} ${frDate(s)}, ${hhmm(s)}–${hhmm(e)}</strong>
<form method="post" action="${`${base}/reserver`}" class="inline"><input type="hidden" name="debut" value="${String(a.start)}"><input type="hidden" name="duree" value="${String(duree)}">${chosen.map((m) => html`<input type="hidden" name="membres" value="${m}">`)}<input type="hidden" name="usager" value="${q.usager === 'non' ? 'non' : 'oui'}"><input type="hidden" name="fenetre" value="${`${debut}/${fin}`}"><button type="submit">Réserver</button></form></li>`;
          })}</ol></section>`
        : html`<p class="notice">Aucun créneau commun sur cette période : élargissez-la ou réduisez la durée.</p>`;
    } catch (e) {
      if (!(e instanceof FhirError)) throw e;
      results = html`<p class="error-box">${e.text}</p>`;
    }
  }
  const message = q.message ? html`<p class="notice" role="status">${q.message}</p>` : '';
  return page({
    title: `Trouver un créneau commun — ${who}`,
    section: 'usagers',
    crumbs: [['Usagers', '/usagers'], [who, `/usagers/${seg(patientId)}`], ['Agenda', `/agendas/Patient/${seg(patientId)}`]],
    body: html`<h1>Trouver un créneau commun — ${who}</h1>${message}${form}${results}`,
  });
}

/** The form posts: book a proposal, answer an invitation. Each a write through the server's interactions. */
export function registerAgendaRoutes(ui: FastifyInstance, store: AgendaStore, writer: () => CoordinationWriter): void {
  type Req = { Params: { id: string; type?: string }; Body: Record<string, string | string[] | undefined> };
  const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  ui.post<Req>('/usagers/:id/creneau-commun/reserver', async (req, reply) => {
    const id = req.params.id;
    const b = req.body ?? {};
    const membres = (Array.isArray(b.membres) ? b.membres : b.membres ? [b.membres] : []).filter((m) => typeof m === 'string');
    const start = parseDateTime(one(b.debut));
    const minutes = Number(one(b.duree));
    const [d, f] = String(one(b.fenetre) ?? '').split('/');
    const back = (message: string, anchor = '') => `/usagers/${seg(id)}/creneau-commun?${membres.map((m) => `membres=${seg(m)}`).join('&')}&duree=${minutes}&debut=${d ?? ''}&fin=${f ?? ''}&message=${seg(message)}${anchor}`;
    if (start === undefined || !Number.isInteger(minutes) || membres.length === 0) return reply.redirect(back('Réservation impossible : créneau incomplet.'), 303);
    const req2: FindRequest = { patient: `Patient/${id}`, professionals: membres, minutes, window: { start, end: start + minutes * 60_000 } };
    const members = await circleMembers(store.repo, `Patient/${id}`, store.clock());
    if (membres.some((m) => !members.has(m))) return reply.redirect(back('Réservation impossible : un participant n’est plus membre du cercle.'), 303);
    const booking = bookingOf(proposal(req2, membres, one(b.usager) !== 'non', { start, end: start + minutes * 60_000 }), undefined);
    booking.description = 'Rendez-vous de coordination';
    try {
      await writer().create('Appointment', booking);
    } catch (e) {
      if (!(e instanceof FhirError)) throw e;
      return reply.redirect(back(`Réservation refusée : ${e.text}`), 303);
    }
    const week = isoLocal(start).slice(0, 10);
    return reply.redirect(`/agendas/Patient/${seg(id)}?semaine=${week}&message=${seg('Rendez-vous proposé aux participants : chacun doit l’accepter.')}`, 303);
  });
  ui.post<Req>('/agendas/:type/:id/repondre', async (req, reply) => {
    const { type, id } = req.params as { type: string; id: string };
    const b = req.body ?? {};
    const rdv = String(one(b.rdv) ?? '');
    const acteur = String(one(b.acteur) ?? '');
    const reponse = one(b.reponse);
    const semaine = String(one(b.semaine) ?? '');
    const back = (m: string) => `/agendas/${seg(type)}/${seg(id)}?semaine=${seg(semaine)}&message=${seg(m)}`;
    if (reponse !== 'accepted' && reponse !== 'declined') return reply.redirect(back('Réponse inconnue.'), 303);
    try {
      const current = await store.repo.read('Appointment', rdv);
      const updated = respond(current.resource, acteur, reponse);
      await writer().update('Appointment', { id: rdv }, { ...updated, id: rdv } as FhirResource);
      const m = updated.status === 'booked' ? 'Réponse enregistrée : tous ont accepté, le rendez-vous est confirmé.' : updated.status === 'cancelled' ? 'Réponse enregistrée : le rendez-vous est annulé.' : 'Réponse enregistrée.';
      return reply.redirect(back(m), 303);
    } catch (e) {
      if (!(e instanceof FhirError)) throw e;
      return reply.redirect(back(`Réponse refusée : ${e.text}`), 303);
    }
  });
}

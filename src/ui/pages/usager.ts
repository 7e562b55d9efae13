// "Usager": everything stored about one person — identity and INS status, séjours on a
// timeline, evaluations (AGGIR variables and GIR, SERAFIN, situation SSIAD), agenda events and
// transports on a week calendar, and the projet personnalisé as a tree with its versions.
import { html, href, seg, type SafeHtml } from '../html.js';
import { page } from '../layout.js';
import { isoDay, parisToday, plural } from '../components.js';
import { calendarState, hhmm, stayTimeline, weekCalendar, type CalendarItem, type Stay } from '../charts.js';
import { answerLabel, codeDisplay, conceptLabel, questionnaireItems, type LabelSource, type QuestionnaireItemInfo } from '../labels.js';
import { attachmentsOf, buildPpTrees, KIND_LABEL, ppKind, type PpNode } from '../pp-tree.js';
import {
  EXT,
  SYS,
  arr,
  codeText,
  codesText,
  dayFromNumber,
  dayNumber,
  dayOf,
  displayOf,
  extString,
  extensions,
  frDate,
  frDecimal1,
  frInstant,
  frNumber,
  frStatus,
  hasProfile,
  hasSystem,
  humanName,
  identifierValue,
  insStatus,
  isObj,
  keyOf,
  minutesOf,
  mondayOf,
  patientNames,
  personName,
  refOf,
  refsOf,
  str,
  type Json,
} from '../fhir-util.js';
import { genderFr } from './usagers.js';
import { igLabel } from './submissions.js';
import { loadObservations, observationsSection, patientV23Rows, patientValidationText } from './usager-v23.js';
import { GIR_CODES, submissionsOfUsager, tasksOfLocalId, type UsagerSubmission } from '../../storage/indicators.js';
import { outcomeBadge } from '../components.js';
import type { Repository, ResourceRecord } from '../../storage/types.js';
import type { TdduiValidator } from '../../tddui/validator.js';

/** Upper bound of related resources read per kind (a usager's data spans a few weeks per send). */
const MAX_RELATED = 1000;

export interface UsagerData {
  patient: Json;
  stays: Json[];
  events: Json[];
  transports: Json[];
  evaluations: Json[];
  plans: Json[];
  ppResources: Json[];
  /** Every document of the usager: by subject, and attached to any of their resources. */
  documents: Json[];
  planVersions: Map<string, ResourceRecord[]>;
  /** Practitioners, organisations… referenced, by `Type/id`. */
  actors: Map<string, Json>;
  submissions: UsagerSubmission[];
}

async function searchAll(repo: Repository, resourceType: string, name: string, values: string[]): Promise<Json[]> {
  const out: Json[] = [];
  for (let i = 0; i < values.length; i += 100) {
    const res = await repo.search({ resourceType, params: [{ name, values: values.slice(i, i + 100) }], count: MAX_RELATED, offset: 0, total: 'none' });
    out.push(...res.matches.map((m) => m.resource as Json));
  }
  return out;
}

async function readByKeys(repo: Repository, keys: Iterable<string>): Promise<Map<string, Json>> {
  const byType = new Map<string, Set<string>>();
  for (const k of keys) {
    const [type, id] = k.split('/');
    if (!type || !id) continue;
    const ids = byType.get(type);
    if (ids) ids.add(id);
    else byType.set(type, new Set([id]));
  }
  // One search per type, at the same time.
  const found = await Promise.all([...byType].map(([type, ids]) => searchAll(repo, type, '_id', [...ids])));
  const out = new Map<string, Json>();
  for (const list of found) for (const r of list) out.set(keyOf(r), r);
  return out;
}

function uniq(list: Json[]): Json[] {
  const seen = new Map<string, Json>();
  for (const r of list) seen.set(keyOf(r), r);
  return [...seen.values()];
}

/** Practitioners, organisations… an element names, shown by name. */
const ACTOR = /^(Practitioner|PractitionerRole|Organization|RelatedPerson|Location)\//;

export async function loadUsager(repo: Repository, id: string): Promise<UsagerData | undefined> {
  let patient: Json;
  try {
    patient = (await repo.read('Patient', id)).resource as Json;
  } catch (e) {
    if ((e as { status?: number }).status === 404 || (e as { status?: number }).status === 410) return undefined;
    throw e;
  }
  const me = [`Patient/${id}`];
  const localId = identifierValue(patient, SYS.localUsager);
  // The reads that depend on one another are grouped in rounds; each round's reads go at once
  // (the pool's connections), so the page waits for a few round trips, not for every query.
  const [encounters, evaluations, plans, goals, needs, docs, submissions] = await Promise.all([
    searchAll(repo, 'Encounter', 'subject', me),
    searchAll(repo, 'QuestionnaireResponse', 'subject', me),
    searchAll(repo, 'CarePlan', 'subject', me),
    searchAll(repo, 'Goal', 'subject', me),
    searchAll(repo, 'ServiceRequest', 'subject', me),
    searchAll(repo, 'DocumentReference', 'subject', me),
    repo.reader().then((db) => submissionsOfUsager(db, id, localId)),
  ]);
  const stays = encounters.filter((e) => hasSystem(e, SYS.sejour) || hasProfile(e, 'tddui-encounter-sejour'));
  const stayKeys = new Set(stays.map(keyOf));
  const events = encounters.filter((e) => !stayKeys.has(keyOf(e)));
  // PP Tasks: basedOn one of the usager's PPs, or identified from the usager's local id (the
  // official PA actions name another CarePlan); then moyens / prestations partOf those actions.
  const [transports, basedOn, named, planVersions] = await Promise.all([
    events.length ? searchAll(repo, 'Task', 'encounter', events.map(keyOf)) : [],
    plans.length ? searchAll(repo, 'Task', 'based-on', plans.map(keyOf)) : [],
    localId && plans.length + goals.length + needs.length > 0 ? repo.reader().then(async (db) => (await tasksOfLocalId(db, localId)) as Json[]) : [],
    Promise.all(plans.map(async (p) => [keyOf(p), (await repo.history({ resourceType: 'CarePlan', id: String(p.id), count: 50, offset: 0 })).entries] as const)).then((l) => new Map<string, ResourceRecord[]>(l)),
  ]);
  const transportKeys = new Set(transports.map(keyOf));
  let tasks = uniq([...basedOn, ...named]).filter((t) => !transportKeys.has(keyOf(t)));
  if (tasks.length) tasks = uniq([...tasks, ...(await searchAll(repo, 'Task', 'part-of', tasks.map(keyOf)))]);
  const consentKeys = plans.flatMap((p) => refsOf(p.supportingInfo)).filter((k) => k.startsWith('Consent/'));
  const docKeys = new Set(docs.map(keyOf));
  const attachmentKeys = [...plans, ...goals, ...needs, ...tasks, ...events, ...evaluations, ...transports]
    .flatMap((r) => [...extensions(r, EXT.attachment).map((e) => refOf(e.valueReference)), ...arr(r.input).map((i) => refOf(i.valueReference))])
    .filter((k): k is string => !!k && k.startsWith('DocumentReference/') && !docKeys.has(k));
  // Actors shown by name.
  const actorKeys = new Set<string>();
  const addRef = (v: unknown) => {
    const k = refOf(v);
    if (k && ACTOR.test(k)) actorKeys.add(k);
  };
  for (const s of stays) addRef(s.serviceProvider);
  for (const e of events) {
    addRef(e.serviceProvider);
    for (const p of arr(e.participant)) addRef(p.individual);
    for (const l of arr(e.location)) addRef(l.location);
  }
  for (const t of [...transports, ...tasks]) {
    addRef(t.owner);
    addRef(t.for);
  }
  for (const q of evaluations) {
    addRef(q.author);
    addRef(q.source);
  }
  const [extra, actors] = await Promise.all([readByKeys(repo, [...consentKeys, ...attachmentKeys]), readByKeys(repo, actorKeys)]);
  // The accords' signatories, when not read already.
  const more = [...extra.values()].flatMap((c) => arr(c.performer).map((p) => refOf(p))).filter((k): k is string => !!k && ACTOR.test(k) && !actorKeys.has(k));
  if (more.length) for (const [k, r] of await readByKeys(repo, more)) actors.set(k, r);
  const ppResources = uniq([...plans, ...goals, ...needs, ...tasks, ...docs, ...extra.values()]);
  const documents = uniq([...docs, ...[...extra.values()].filter((r) => r.resourceType === 'DocumentReference')]);
  return { patient, stays, events, transports, evaluations, plans, ppResources, planVersions, actors, submissions, documents };
}

// ---- rendering helpers

function actorName(actors: Map<string, Json>, ref: unknown): string | undefined {
  if (!isObj(ref)) return undefined;
  const k = refOf(ref);
  const a = k ? actors.get(k) : undefined;
  if (a?.resourceType === 'PractitionerRole') {
    const pr = refOf(a.practitioner);
    const p = pr ? actors.get(pr) : undefined;
    return [p ? personName(p) : undefined, codesText(a.code)].filter(Boolean).join(' — ') || k;
  }
  return a ? displayOf(a) : (str(ref.display) ?? k);
}

function identitySection(p: Json): SafeHtml {
  const ins = insStatus(p);
  const names = arr(p.name);
  const birthPlace = extensions(p, EXT.birthPlace)[0];
  const bp = isObj(birthPlace?.valueAddress) ? birthPlace!.valueAddress : undefined;
  const birthOrder = isObj(p._birthDate) ? extensions(p._birthDate, EXT.birthOrder)[0] : undefined;
  const insBox = ins.ins
    ? html`<span class="badge ok">${ins.ins.kind}</span> <code>${ins.ins.value}</code> — ${ins.reliabilityLabel ?? 'statut de l’identité non renseigné'}`
    : html`<span class="badge neutral">Sans INS</span> ${ins.reliabilityLabel ? `— ${ins.reliabilityLabel}` : '— identité locale (profil TDDUIPatient)'}`;
  return html`<section class="card" id="identite"><h2>Identité</h2>
<table class="kv">
${names.map((n) => html`<tr><th>${n.use === 'official' ? 'Nom de naissance' : n.use === 'usual' ? 'Nom d’usage' : 'Nom'}</th><td>${humanName(n)}${arr(n.extension).map((e) => (typeof e.valueString === 'string' ? html` <span class="muted">(prénoms : ${e.valueString})</span>` : ''))}</td></tr>`)}
<tr><th>Sexe</th><td>${genderFr(p.gender)}</td></tr>
<tr><th>Naissance</th><td>${frDate(p.birthDate) || 'non renseignée'}${bp ? ` à ${[str(bp.city), str(bp.country)].filter(Boolean).join(', ')}` : ''}${birthOrder ? ` (rang de naissance ${String(birthOrder.valuePositiveInt ?? '')})` : ''}</td></tr>
<tr><th>Statut INS</th><td id="ins-status">${insBox}</td></tr>
<tr><th>Identifiant local</th><td><code>${identifierValue(p, SYS.localUsager) ?? '—'}</code></td></tr>
${arr(p.address).map((a) => html`<tr><th>Adresse</th><td>${[...(Array.isArray(a.line) ? a.line : []), [str(a.postalCode), str(a.city)].filter(Boolean).join(' ')].filter(Boolean).join(', ')}</td></tr>`)}
${arr(p.telecom).map((t) => html`<tr><th>Contact</th><td>${str(t.value) ?? ''}</td></tr>`)}
</table>${patientV23Rows(p)}</section>`;
}

function staysSection(d: UsagerData, today: string): SafeHtml {
  if (d.stays.length === 0) return html`<section class="card" id="sejours"><h2>Séjours</h2><p class="muted">Aucun séjour enregistré.</p></section>`;
  const sorted = [...d.stays].sort((a, b) => String(dayOf(isObj(a.period) ? a.period.start : undefined) ?? '').localeCompare(String(dayOf(isObj(b.period) ? b.period.start : undefined) ?? '')));
  const stays: Stay[] = sorted.map((s) => {
    const period = isObj(s.period) ? s.period : {};
    const end = dayOf(period.end);
    const open = !end && s.status !== 'finished' && s.status !== 'cancelled';
    return {
      label: actorName(d.actors, s.serviceProvider) ?? identifierValue(s, SYS.sejour) ?? 'Séjour',
      start: dayOf(period.start),
      end: end ?? (open ? undefined : dayOf(period.start)),
      open,
      detail: `${frDate(period.start)} → ${end ? frDate(end) : 'en cours'} (${frStatus(s.status)})`,
    };
  });
  return html`<section class="card" id="sejours"><h2>Séjours</h2>
${stayTimeline(stays, today)}
<div class="legend"><span><i class="c-sej"></i>séjour terminé</span><span><i class="c-sej-open"></i>séjour en cours</span></div>
<table class="list"><thead><tr><th>Identifiant</th><th>Structure</th><th>Entrée</th><th>Sortie</th><th>Statut</th><th>Modalités</th></tr></thead><tbody>
${sorted.map((s) => {
  const period = isObj(s.period) ? s.period : {};
  return html`<tr><td><code>${identifierValue(s, SYS.sejour) ?? ''}</code></td><td>${actorName(d.actors, s.serviceProvider) ?? ''}</td>
<td>${frDate(period.start)}${extString(s, EXT.admissionDate) ? html`<br><span class="muted">admission ${frDate(extString(s, EXT.admissionDate))}</span>` : ''}</td>
<td>${frDate(period.end) || (extString(s, EXT.plannedEndDate) ? html`<span class="muted">prévue ${frDate(extString(s, EXT.plannedEndDate))}</span>` : '—')}</td>
<td>${frStatus(s.status)}</td>
<td>${[extString(s, EXT.entryModeLabel), extString(s, EXT.exitModeLabel)].filter(Boolean).join(' · ')}</td></tr>`;
})}
</tbody></table></section>`;
}

// ---- evaluations

const QUESTIONNAIRES: Record<string, string> = {
  'tddui-questionnaire-aggir-pa-ssiad': 'AGGIR PA (SSIAD)',
  'tddui-questionnaire-aggir-ph-ssiad': 'AGGIR PH (SSIAD)',
  'tddui-questionnaire-serafin': 'SERAFIN-PH — besoins',
  'tddui-questionnaire-situation-ssiad': 'Situation SSIAD',
};

function questionnaireId(qr: Json): string {
  const q = str(qr.questionnaire) ?? '';
  return q.split('|')[0].split('/').pop() ?? q;
}

/** AGGIR modality from the ICF qualifier the IG uses: qf0 → A, qf2 → B, qf4 → C. */
const AGGIR_LETTER: Record<string, string> = { qf0: 'A', qf2: 'B', qf4: 'C' };

export function girOf(qr: Json): { gir?: number; code?: string; display?: string } {
  const res = arr(qr.item).find((i) => i.linkId === 'resultat-eval');
  const c = isObj(arr(res?.answer)[0]?.valueCoding) ? (arr(res!.answer)[0].valueCoding as Json) : undefined;
  const code = str(c?.code);
  return { gir: code ? GIR_CODES[code] : undefined, code, display: str(c?.display) };
}

/** Equal but for case, spacing and the apostrophe typed (' or ’). */
function sameText(a: string, b: string): boolean {
  const n = (x: string) => x.replace(/[’ʼ`]/g, "'").replace(/\s+/g, ' ').trim().toLowerCase();
  return n(a) === n(b);
}

/** One answer as people read it: codings by their label (response, Questionnaire or code system). */
function answerText(labels: LabelSource | undefined, item: QuestionnaireItemInfo | undefined, a: Json | undefined): string {
  if (!a) return '';
  if (typeof a.valueBoolean === 'boolean') return a.valueBoolean ? 'oui' : 'non';
  if (isObj(a.valueCoding)) return answerLabel(labels, item, a) ?? '';
  for (const k of ['valueInteger', 'valueDecimal', 'valueString', 'valueDate', 'valueDateTime']) if (a[k] !== undefined) return k.includes('Date') ? frDate(a[k]) : String(a[k]);
  return '';
}

function evaluationCard(qr: Json, d: UsagerData, labels: LabelSource | undefined): SafeHtml {
  const qid = questionnaireId(qr);
  const defs = questionnaireItems(labels, str(qr.questionnaire));
  const label = (it: Json) => str(it.text) ?? defs.get(String(it.linkId))?.text ?? String(it.linkId);
  const head = html`<h3>${QUESTIONNAIRES[qid] ?? qid} <span class="muted">${qr.authored ? `du ${frDate(qr.authored)}` : ''} · ${frStatus(qr.status)}</span></h3>
<p class="muted">${[isObj(qr.identifier) ? str(qr.identifier.value) : undefined, actorName(d.actors, qr.source) ? `évaluateur : ${actorName(d.actors, qr.source)}` : undefined, actorName(d.actors, qr.author) ? `auteur : ${actorName(d.actors, qr.author)}` : undefined].filter(Boolean).join(' · ')}</p>
${extString(qr, EXT.comment) ? html`<p>${extString(qr, EXT.comment)}</p>` : ''}`;
  if (qid.startsWith('tddui-questionnaire-aggir')) {
    const g = girOf(qr);
    const res = arr(qr.item).find((i) => i.linkId === 'resultat-eval');
    const vars = arr(arr(res?.answer)[0]?.item);
    const boolOf = (v: Json, suffix: string) => {
      const b = arr(v.answer)[0] ? arr(arr(v.answer)[0].item).find((x) => String(x.linkId).endsWith(`-${suffix}`)) : undefined;
      const val = arr(b?.answer)[0]?.valueBoolean;
      return typeof val === 'boolean' ? (val ? html`<span class="yes">oui</span>` : html`<span class="no">non</span>`) : html`<span class="muted">—</span>`;
    };
    return html`<div class="card evaluation aggir">${head}
<p>Résultat : <span class="gir" id="gir">${g.gir ? `GIR ${g.gir}` : (g.display ?? 'non renseigné')}</span> ${g.code ? html`<span class="muted">(${g.code}${g.display ? ` « ${g.display} »` : ''})</span>` : ''}</p>
${
  vars.length
    ? html`<div class="table-wrap"><table class="list aggir"><thead><tr><th>Variable</th><th>Modalité</th><th>Qualificatif</th><th>Spontanément</th><th>Totalement</th><th>Correctement</th><th>Habituellement</th></tr></thead><tbody>
${vars.map((v) => {
  const a = arr(v.answer)[0];
  const c = isObj(a?.valueCoding) ? (a.valueCoding as Json) : undefined;
  return html`<tr><td>${label(v)}</td><td class="code">${AGGIR_LETTER[str(c?.code) ?? ''] ?? '?'}</td><td>${a ? answerText(labels, defs.get(String(v.linkId)), a) : ''}</td><td>${boolOf(v, 'spont')}</td><td>${boolOf(v, 'tot')}</td><td>${boolOf(v, 'correct')}</td><td>${boolOf(v, 'habit')}</td></tr>`;
})}
</tbody></table></div>`
    : html`<p class="muted">Les variables AGGIR ne sont pas détaillées dans cette évaluation (résultat seul).</p>`
}</div>`;
  }
  const items: Json[] = [];
  const walk = (list: unknown) => {
    for (const it of arr(list)) {
      items.push(it);
      walk(it.item);
    }
  };
  walk(qr.item);
  // Items coded in a terminology (SERAFIN-PH besoins): their code and its label beside the
  // answer, indented by the code's level (1 > 1.1 > 1.1.1), so a bare value reads as
  // "1.1.8 Besoins en matière de fonctions locomotrices : 31".
  const coded = items.some((it) => defs.get(String(it.linkId))?.code);
  return html`<div class="card evaluation" data-questionnaire="${qid}">${head}
<div class="table-wrap"><table class="list answers"><thead><tr>${coded ? html`<th>Code</th>` : ''}<th>Élément</th><th>Réponse</th></tr></thead><tbody>
${items.map((it) => {
  const def = defs.get(String(it.linkId));
  const code = def?.code;
  const level = code ? Math.max(0, code.code.split('.').length - 1) : (def?.depth ?? 0);
  const codeLabel = code ? (code.display ?? codeDisplay(labels, code.system, code.code)) : undefined;
  const text = label(it);
  return html`<tr>${coded ? html`<td class="code">${code?.code ?? ''}</td>` : ''}<td class="${`level-${Math.min(level, 4)}`}">${text}${codeLabel && sameText(codeLabel, text) === false ? html`<br><span class="muted">${codeLabel}</span>` : ''}</td><td class="answer">${arr(it.answer).map((a) => answerText(labels, def, a)).join(', ')}${extString(it, EXT.comment) ? html`<br><span class="muted">${extString(it, EXT.comment)}</span>` : ''}</td></tr>`;
})}
</tbody></table></div></div>`;
}

function evaluationsSection(d: UsagerData, validator: LabelSource | undefined): SafeHtml {
  const sorted = [...d.evaluations].sort((a, b) => String(b.authored ?? '').localeCompare(String(a.authored ?? '')));
  return html`<section id="evaluations"><h2>Évaluations</h2>
${sorted.length ? sorted.map((qr) => evaluationCard(qr, d, validator)) : html`<p class="muted card">Aucune évaluation enregistrée.</p>`}</section>`;
}

// ---- agenda

function eventLabel(e: Json, labels: LabelSource | undefined): string {
  return extString(e, EXT.eventLabel) ?? (arr(e.type).map((t) => conceptLabel(labels, t)).filter((t) => t && t !== 'Not Permitted').join(', ') || 'Évènement');
}

/** The week's items day by day: what the calendar shows, as a list (the phone layout). */
function dayList(monday: string, items: CalendarItem[]): SafeHtml {
  const m0 = dayNumber(monday);
  const DAY_NAMES = ['lundi', 'mardi', 'mercredi', 'jeudi', 'vendredi', 'samedi', 'dimanche'];
  return html`<ol class="day-list" aria-label="${`Semaine du ${frDate(monday)}, jour par jour`}">
${DAY_NAMES.map((name, i) => {
  const day = dayFromNumber(m0 + i);
  const list = items.filter((x) => x.day === day).sort((a, b) => a.start - b.start);
  return html`<li><h3>${name} ${frDate(day)}</h3>${
    list.length
      ? html`<ul>${list.map(
          (x) => html`<li class="${`day-item cal-${x.kind} cal-${x.state ?? 'done'}`}"><span class="time">${hhmm(x.start)}–${hhmm(x.end)}</span> <span class="what">${x.kind === 'evt' ? 'Évènement : ' : ''}${x.label}</span>${x.statusLabel ? html` <span class="${`status status-${x.state ?? 'done'}`}">${x.statusLabel}</span>` : ''}${x.detail ? html`<span class="muted detail">${x.detail}</span>` : ''}</li>`,
        )}</ul>`
      : html`<p class="muted">Rien ce jour.</p>`
  }</li>`;
})}
</ol>`;
}

function agendaSection(d: UsagerData, week: string | undefined, labels: LabelSource | undefined): SafeHtml {
  const items: CalendarItem[] = [];
  const eventById = new Map(d.events.map((e) => [keyOf(e), e]));
  for (const e of d.events) {
    const p = isObj(e.period) ? e.period : {};
    const day = dayOf(p.start);
    if (!day) continue;
    const start = minutesOf(p.start) ?? 8 * 60;
    const sameDay = dayOf(p.end) === day;
    const cancel = isObj(e._status) ? extensions(e._status, EXT.eventCancelReason)[0] : undefined;
    const reason = cancel ? conceptLabel(labels, cancel.valueCodeableConcept) : undefined;
    items.push({
      day,
      start,
      end: sameDay ? (minutesOf(p.end) ?? start + 30) : Math.max(start + 30, 24 * 60 - 1),
      label: eventLabel(e, labels),
      kind: 'evt',
      state: calendarState(e.status),
      statusLabel: frStatus(e.status),
      detail: [reason ? `motif : ${reason}` : undefined, patientValidationText(e)].filter(Boolean).join(' ; ') || undefined,
    });
  }
  for (const t of d.transports) {
    const p = isObj(t.executionPeriod) ? t.executionPeriod : {};
    const day = dayOf(p.start);
    if (!day) continue;
    const start = minutesOf(p.start) ?? 8 * 60;
    const pro = hasSystem(t, SYS.transportPro);
    const evt = eventById.get(refOf(t.encounter) ?? '');
    items.push({
      day,
      start,
      end: dayOf(p.end) === day ? (minutesOf(p.end) ?? start + 30) : start + 30,
      label: `${pro ? 'Transport pro.' : 'Transport'} ${conceptLabel(labels, t.code) ?? ''}`.trim(),
      kind: 'tr',
      state: calendarState(t.status),
      statusLabel: frStatus(t.status),
      detail: evt ? `pour « ${eventLabel(evt, labels)} »` : undefined,
    });
  }
  if (items.length === 0) return html`<section class="card" id="agenda"><h2>Agenda : évènements et transports</h2><p class="muted">Aucun évènement ni transport enregistré.</p></section>`;
  const latest = items.map((i) => i.day).sort().pop()!;
  const monday = mondayOf(week ?? latest);
  const m0 = dayNumber(monday);
  const weekItems = items.filter((i) => dayNumber(i.day) - m0 >= 0 && dayNumber(i.day) - m0 < 7).sort((a, b) => a.day.localeCompare(b.day) || a.start - b.start);
  const weeksWithData = [...new Set(items.map((i) => mondayOf(i.day)))].sort();
  const link = (w: string) => `${href('', { semaine: w })}#agenda`;
  const states = new Set(weekItems.map((i) => i.state ?? 'done'));
  return html`<section class="card" id="agenda"><h2>Agenda : évènements et transports</h2>
<div class="tabs week-nav"><a href="${link(dayFromNumber(m0 - 7))}">‹ Semaine précédente</a><strong>Semaine du ${frDate(monday)} au ${frDate(dayFromNumber(m0 + 6))}</strong><a href="${link(dayFromNumber(m0 + 7))}">Semaine suivante ›</a></div>
<p class="muted">Semaines avec des données : ${weeksWithData.map((w, i) => html`${i ? ', ' : ''}<a href="${link(w)}">${frDate(w)}</a>`)}</p>
${weekCalendar(monday, items)}
${dayList(monday, weekItems)}
<div class="legend"><span><i class="c-evt"></i>évènement</span><span><i class="c-tr"></i>transport</span><span><i class="c-done"></i>réalisé</span>${states.has('planned') ? html`<span><i class="c-planned"></i>prévu</span>` : ''}${states.has('cancelled') ? html`<span><i class="c-cancelled"></i>annulé</span>` : ''}</div>
${weekItems.length ? html`<div class="table-wrap week-table"><table class="list"><thead><tr><th>Jour</th><th>Horaire</th><th>Type</th><th>Libellé</th><th>Statut</th><th>Détail</th></tr></thead><tbody>
${weekItems.map((i) => html`<tr class="${`row-${i.state ?? 'done'}`}"><td>${frDate(i.day)}</td><td>${hhmm(i.start)}–${hhmm(i.end)}</td><td>${i.kind === 'evt' ? 'Évènement' : 'Transport'}</td><td>${i.label}</td><td><span class="${`status status-${i.state ?? 'done'}`}">${i.statusLabel ?? ''}</span></td><td>${i.detail ?? ''}</td></tr>`)}
</tbody></table></div>` : html`<p class="muted">Rien cette semaine.</p>`}
</section>`;
}

// ---- projet personnalisé

/** Size as people read it: 12 Ko, 1,4 Mo. */
function sizeText(n: number | undefined): string | undefined {
  if (n === undefined) return undefined;
  if (n < 1024) return `${n} o`;
  if (n < 1024 * 1024) return `${frNumber(Math.round(n / 1024))} Ko`;
  return `${frDecimal1(n / 1024 / 1024)} Mo`;
}

/** Links to open and download each attachment of a document (served by /documents/…). */
function attachmentLinks(n: PpNode): SafeHtml {
  const id = n.key.slice('DocumentReference/'.length);
  return html`${(n.attachments ?? []).map((a) => {
    const path = `/documents/${seg(id)}/${a.index}`;
    const meta = [a.contentType, sizeText(a.size)].filter(Boolean).join(', ');
    if (a.inline) {
      return html`<span class="doc-links">${meta ? html`<span class="muted">${meta}</span> ` : ''}<a href="${path}" target="_blank" rel="noopener" class="doc-open">Ouvrir</a> · <a href="${`${path}?telecharger=1`}" class="doc-download" download>Télécharger</a></span>`;
    }
    if (a.url && /^https?:\/\//i.test(a.url)) return html`<span class="doc-links">${meta ? html`<span class="muted">${meta}</span> ` : ''}<a href="${a.url}" target="_blank" rel="noopener noreferrer" class="doc-open">Ouvrir (lien externe)</a></span>`;
    return html`<span class="doc-links muted">${meta ? `${meta} — ` : ''}contenu non transmis${a.url ? ` (référence ${a.url})` : ''}</span>`;
  })}`;
}

function treeNode(n: PpNode): SafeHtml {
  return html`<li><span class="node" data-kind="${n.kind}"><span class="${`kind kind-${n.kind}`}">${KIND_LABEL[n.kind]}</span>${n.title}${n.details.map((x) => html`<span class="detail">${x}</span>`)}${n.kind === 'doc' ? attachmentLinks(n) : ''}</span>
${n.children.length ? html`<ul>${n.children.map(treeNode)}</ul>` : ''}</li>`;
}

function ppSection(d: UsagerData, labels: LabelSource | undefined): SafeHtml {
  // The usager is among the actors: an accord signed by the usager names them, not Patient/<id>.
  const actors = new Map(d.actors);
  actors.set(keyOf(d.patient), d.patient);
  const forest = buildPpTrees(d.ppResources, { actors, concept: (cc) => conceptLabel(labels, cc) });
  if (forest.trees.length === 0 && forest.orphans.length === 0) return html`<section class="card" id="projet"><h2>Projet personnalisé</h2><p class="muted">Aucun projet personnalisé enregistré.</p></section>`;
  return html`<section class="card" id="projet"><h2>Projet personnalisé</h2>
<p><a href="${`/usagers/${seg(String(d.patient.id))}/projet/versions`}" class="ppa-versions-link">Versions du projet et différences entre versions</a></p>
<div class="legend">${(['attente', 'besoin', 'objectif', 'action', 'moyen', 'prestation', 'bilan'] as const).map((k) => html`<span class="node"><span class="${`kind kind-${k}`}">${KIND_LABEL[k]}</span></span>`)}</div>
${forest.trees.map((t) => {
  const versions = d.planVersions.get(t.key) ?? [];
  return html`<ul class="tree pp-tree">${treeNode(t)}</ul>
${versions.length ? html`<h3>Versions du projet</h3><div class="table-wrap"><table class="list versions"><thead><tr><th>Version</th><th>Enregistrée le</th><th>Statut</th><th>Titre</th><th>Période</th></tr></thead><tbody>
${versions.map((v) => {
  const r = v.resource as Json;
  const p = isObj(r.period) ? r.period : {};
  return html`<tr><td>${v.versionId}${v.versionId === versions[0].versionId ? ' (actuelle)' : ''}</td><td>${frInstant(v.lastUpdated)}</td><td>${v.deleted ? 'supprimée' : frStatus(r.status)}</td><td>${str(r.title) ?? ''}</td><td>${[frDate(p.start), frDate(p.end)].filter(Boolean).join(' → ')}</td></tr>`;
})}
</tbody></table></div>` : ''}`;
})}
${forest.orphans.length ? html`<h3>Éléments non rattachés à un projet</h3><ul class="tree">${forest.orphans.map(treeNode)}</ul>` : ''}
</section>`;
}

/** What each document is attached to, for the documents list ("Objectif 1", "Évènement du 14/04/2023"…). */
function attachedTo(d: UsagerData, labels: LabelSource | undefined): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const add = (owner: Json, what: string) => {
    const keys = [...extensions(owner, EXT.attachment).map((e) => refOf(e.valueReference)), ...arr(owner.input).map((i) => refOf(i.valueReference))];
    for (const k of keys) if (k?.startsWith('DocumentReference/')) out.set(k, [...(out.get(k) ?? []), what]);
  };
  for (const e of d.events) add(e, `évènement « ${eventLabel(e, labels)} » du ${frDate(isObj(e.period) ? e.period.start : undefined)}`);
  for (const q of d.evaluations) add(q, `évaluation ${QUESTIONNAIRES[questionnaireId(q)] ?? ''} du ${frDate(q.authored)}`.replace('  ', ' '));
  for (const r of d.ppResources) {
    const kind = ppKind(r);
    if (kind && kind !== 'doc') add(r, `${KIND_LABEL[kind].toLowerCase()} ${str(r.title) ?? str(arr(r.identifier)[0]?.value) ?? ''}`.trim());
  }
  return out;
}

function documentsSection(d: UsagerData, labels: LabelSource | undefined): SafeHtml {
  if (d.documents.length === 0) return html``;
  const owners = attachedTo(d, labels);
  const sorted = [...d.documents].sort((a, b) => String(b.date ?? '').localeCompare(String(a.date ?? '')));
  return html`<section class="card" id="documents"><h2>Documents</h2>
<ul class="documents">
${sorted.map((doc) => {
  const node: PpNode = { kind: 'doc', key: keyOf(doc), title: '', details: [], children: [], attachments: attachmentsOf(doc) };
  const first = isObj(arr(doc.content)[0]?.attachment) ? (arr(doc.content)[0].attachment as Json) : undefined;
  const title = str(first?.title) ?? str(doc.description) ?? 'Document';
  const where = owners.get(keyOf(doc));
  return html`<li><strong>${title}</strong>${doc.date || first?.creation ? html` <span class="muted">du ${frDate(doc.date ?? first?.creation)}</span>` : ''}${conceptLabel(labels, doc.type) ? html` <span class="muted">· ${conceptLabel(labels, doc.type)}</span>` : ''}
${where ? html`<span class="muted detail">joint à : ${where.join(' ; ')}</span>` : ''}${attachmentLinks(node)}</li>`;
})}
</ul></section>`;
}

function submissionsSection(d: UsagerData): SafeHtml {
  if (d.submissions.length === 0) return html``;
  return html`<section class="card" id="envois-usager"><h2>Envois concernant cet usager</h2>
<table class="list"><thead><tr><th>Reçu le</th><th>Résultat</th><th>Version du guide</th><th class="num">Ressources</th><th class="num">Erreurs</th><th class="num">Avertissements</th><th></th></tr></thead><tbody>
${d.submissions.map((s) => html`<tr><td>${frInstant(s.receivedAt)}</td><td>${outcomeBadge(s.outcome)}</td><td class="ig">${igLabel(s.ig) ?? ''}</td><td class="num">${s.resourceCount}</td><td class="num">${s.errorCount}</td><td class="num">${s.warningCount}</td><td><a href="${`/envois/${seg(s.id)}`}">Rapport</a></td></tr>`)}
</tbody></table></section>`;
}

export async function usagerPage(repo: Repository, validator: TdduiValidator | undefined, id: string, query: { semaine?: string }): Promise<string | undefined> {
  // The observations (TDDUI 2.3) are read beside the rest.
  const [d, obs] = await Promise.all([loadUsager(repo, id), loadObservations(repo, id)]);
  if (!d) return undefined;
  const today = parisToday();
  const names = patientNames(d.patient);
  const latestGir = [...d.evaluations]
    .filter((q) => questionnaireId(q).startsWith('tddui-questionnaire-aggir'))
    .sort((a, b) => String(b.authored ?? '').localeCompare(String(a.authored ?? '')))[0];
  const g = latestGir ? girOf(latestGir) : undefined;
  const body = html`<h1>${names.shown}${names.birth ? html` <span class="birth-name">(${names.birth})</span>` : ''} ${g?.gir ? html`<span class="gir" title="Dernière évaluation AGGIR">GIR ${g.gir}</span>` : ''}</h1>
<nav class="tabs" aria-label="Sections"><a href="#identite">Identité</a><a href="#sejours">Séjours (${d.stays.length})</a><a href="#evaluations">Évaluations (${d.evaluations.length})</a><a href="#agenda">Agenda (${plural(d.events.length, 'évènement', 'évènements')}, ${plural(d.transports.length, 'transport', 'transports')})</a><a href="#projet">Projet personnalisé (${d.plans.length})</a>${d.documents.length ? html`<a href="#documents">Documents (${d.documents.length})</a>` : ''}${obs.observations.length ? html`<a href="#observations">Observations (${obs.observations.length})</a>` : ''}${d.submissions.length ? html`<a href="#envois-usager">Envois (${d.submissions.length})</a>` : ''}<a href="${`/usagers/${seg(id)}/coordination`}">Coordination</a><a href="${`/agendas/Patient/${seg(id)}`}">Agenda partagé</a><a href="${`/fhir/Patient/${seg(id)}`}">FHIR</a></nav>
${identitySection(d.patient)}
${staysSection(d, today)}
${evaluationsSection(d, validator)}
${observationsSection(obs.observations, obs.performers)}
${agendaSection(d, isoDay(query.semaine), validator)}
${ppSection(d, validator)}
${documentsSection(d, validator)}
${submissionsSection(d)}`;
  return page({ title: names.shown, section: 'usagers', body, crumbs: [['Usagers', '/usagers']] });
}

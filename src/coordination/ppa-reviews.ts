// The yearly review of the projet personnalisé d'accompagnement (Cadre d'urbanisation 2024,
// recommendation 1.1.7, HAS: revised at least once a year). A PPA is **due for review** when its
// last validation — the date of the usager's accord on an active CarePlan (D-123) — is older
// than `months` (12 by default): it appears in *Revues à prévoir* (per ESSMS), is counted as
// overdue on *Pilotage*, and raises one `pp-review-due` event (src/rest/events.ts) for the
// notifications — once per plan and validation, however often the check runs (D-126).
import { isObject, type FhirResource, type Json } from '../fhir/json.js';
import { EVENT_TYPES } from '../rest/events.js';
import type { Repository } from '../storage/types.js';

const LOCAL_USAGER = 'https://identifiant-medicosocial-localusager.esante.gouv.fr';
export const DEFAULT_REVIEW_MONTHS = 12;

export interface DueReview {
  /** `Patient/<id>`. */
  patient: string;
  patientName?: string;
  /** `CarePlan/<id>`. */
  carePlan: string;
  title?: string;
  /** The ESSMS: FINESS of the usager's local identifier (`3<FINESS>/id`). */
  finess?: string;
  /** The usager's accord that validated it (ISO date-time as sent). */
  validatedOn: string;
  /** The day the review fell due (YYYY-MM-DD). */
  dueOn: string;
  /** Days since then (0 = due today). */
  daysLate: number;
}

const refOf = (v: unknown): string | undefined => (isObject(v) && typeof v.reference === 'string' ? v.reference.replace(/\/_history\/.*$/, '') : undefined);
const idOf = (ref: string) => ref.split('/').pop()!;

async function searchAll(repo: Repository, resourceType: string, params: { name: string; values: string[] }[]): Promise<FhirResource[]> {
  const out: FhirResource[] = [];
  for (let offset = 0; ; offset += 500) {
    const r = await repo.search({ resourceType, params, count: 500, offset, total: 'none' });
    out.push(...r.matches.map((m) => m.resource));
    if (r.matches.length < 500) return out;
  }
}

async function byIds(repo: Repository, type: string, ids: string[]): Promise<Map<string, FhirResource>> {
  const out = new Map<string, FhirResource>();
  const unique = [...new Set(ids)];
  for (let i = 0; i < unique.length; i += 100) {
    for (const r of await searchAll(repo, type, [{ name: '_id', values: unique.slice(i, i + 100) }])) out.set(`${type}/${r.id}`, r);
  }
  return out;
}

/** `date` + `months` calendar months (the last day of a shorter month when needed), as YYYY-MM-DD. */
export function addMonths(date: string, months: number): string {
  const [y, m, d] = date.slice(0, 10).split('-').map(Number) as [number, number, number];
  const total = y * 12 + (m - 1) + months;
  const ny = Math.floor(total / 12);
  const nm = (total % 12) + 1;
  const last = new Date(Date.UTC(ny, nm, 0)).getUTCDate();
  return `${ny}-${String(nm).padStart(2, '0')}-${String(Math.min(d, last)).padStart(2, '0')}`;
}

/** The usager's accord: signed by the usager or a relative, not by the structure (D-123). */
function usagerAccord(c: FhirResource | undefined): boolean {
  return !!c && c.resourceType === 'Consent' && c.status === 'active' && (Array.isArray(c.performer) ? c.performer : []).some((p) => /(^|\/)(Patient|RelatedPerson)\//.test(refOf(p) ?? ''));
}

/** The active PPAs whose last validation is `months` or more before `now` (Paris day), most late first. */
export async function dueReviews(repo: Repository, options: { now?: Date; months?: number } = {}): Promise<DueReview[]> {
  const now = options.now ?? new Date();
  const months = options.months ?? DEFAULT_REVIEW_MONTHS;
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Paris' }).format(now);
  const plans = await searchAll(repo, 'CarePlan', [{ name: 'status', values: ['active'] }]);
  const consentRefs = plans.flatMap((p) => (Array.isArray(p.supportingInfo) ? p.supportingInfo : []).map(refOf).filter((r): r is string => !!r && r.startsWith('Consent/')));
  const consents = await byIds(repo, 'Consent', consentRefs.map(idOf));
  const patients = await byIds(repo, 'Patient', plans.map((p) => refOf(p.subject)).filter((r): r is string => !!r && r.startsWith('Patient/')).map(idOf));
  const out: DueReview[] = [];
  for (const plan of plans) {
    const accords = (Array.isArray(plan.supportingInfo) ? plan.supportingInfo : []).map((s) => consents.get(refOf(s) ?? '')).filter(usagerAccord);
    const validatedOn = accords.map((c) => String(c!.dateTime ?? '')).filter(Boolean).sort().pop();
    if (!validatedOn) continue; // never validated: not a yearly review (yet)
    const dueOn = addMonths(validatedOn, months);
    if (dueOn > today) continue;
    const patientRef = refOf(plan.subject) ?? '';
    const patient = patients.get(patientRef);
    const local = (Array.isArray(patient?.identifier) ? patient!.identifier : []).find((i) => isObject(i) && i.system === LOCAL_USAGER) as Json | undefined;
    // The local identifier is `3<FINESS>/<id>` (TDDUI: "3+FINESS").
    const prefix = typeof local?.value === 'string' && local.value.includes('/') ? local.value.split('/')[0]! : undefined;
    const finess = prefix && /^3\d{9}$/.test(prefix) ? prefix.slice(1) : prefix;
    const name = (Array.isArray(patient?.name) ? patient!.name : [])[0] as Json | undefined;
    const patientName = name ? [...(Array.isArray(name.given) ? name.given : []), name.family].filter(Boolean).join(' ') : undefined;
    out.push({
      patient: patientRef,
      ...(patientName ? { patientName } : {}),
      carePlan: `CarePlan/${plan.id}`,
      ...(typeof plan.title === 'string' ? { title: plan.title } : {}),
      ...(finess ? { finess } : {}),
      validatedOn,
      dueOn,
      daysLate: Math.round((Date.parse(today) - Date.parse(dueOn)) / 86_400_000),
    });
  }
  return out.sort((a, b) => b.daysLate - a.daysLate || a.carePlan.localeCompare(b.carePlan));
}

/**
 * Raises one `pp-review-due` event per due review not raised yet (table ppa_review_event,
 * migration 0100): the marker row and the outbox row are written by one plan, and a second
 * checker racing on the same review fails on the marker's key and raises nothing. Returns the
 * reviews it raised an event for.
 */
export async function raiseDueReviewEvents(repo: Repository, options: { now?: Date; months?: number } = {}): Promise<DueReview[]> {
  const now = options.now ?? new Date();
  const due = await dueReviews(repo, { ...options, now });
  if (due.length === 0) return [];
  const { rows } = await repo.db.query<{ careplan: string; validated_on: string }>('SELECT careplan, validated_on FROM ppa_review_event');
  const raised = new Set(rows.map((r) => `${r.careplan}|${r.validated_on}`));
  const out: DueReview[] = [];
  const t = EVENT_TYPES.ppReviewDue;
  for (const r of due) {
    if (raised.has(`${r.carePlan}|${r.validatedOn}`)) continue;
    try {
      await repo.execute({
        ops: [],
        attempts: 1,
        extra: (p) => [`INSERT INTO ppa_review_event (careplan, validated_on, due_on, raised) VALUES (${p(r.carePlan)}, ${p(r.validatedOn)}, ${p(r.dueOn)}::date, ${p(now.toISOString())}::timestamptz)`],
        events: () => [
          {
            type: { system: t.system, code: t.code, display: t.display },
            patient: r.patient,
            focus: r.carePlan,
            occurred: now.toISOString(),
            source: 'ppa-review',
            detail: {
              text: `Révision du projet personnalisé${r.title ? ` « ${r.title} »` : ''} à échéance depuis le ${r.dueOn.split('-').reverse().join('/')} (dernière validation le ${r.validatedOn.slice(0, 10).split('-').reverse().join('/')})`,
              carePlan: r.carePlan,
              dueOn: r.dueOn,
              validatedOn: r.validatedOn,
            },
          },
        ],
      });
      out.push(r);
    } catch (e) {
      // Raised meanwhile by another checker (the marker's primary key): nothing more to do.
      if ((e as { code?: string }).code === '23505' || /duplicate key|ppa_review_event_pkey/.test(String((e as Error).message))) continue;
      throw e;
    }
  }
  return out;
}

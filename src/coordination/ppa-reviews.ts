// The yearly review of the projet personnalisé d'accompagnement (Cadre d'urbanisation 2024,
// recommendation 1.1.7, HAS: revised at least once a year). A PPA is **due for review** when its
// last validation — the date of the usager's accord on an active CarePlan (D-123) — is older
// than `months` (12 by default; the validation dates are kept from every write, migration 0180,
// D-254, refreshed after the writes and drained before they are read, D-356): it appears in *Revues à prévoir* (per ESSMS), is counted as
// overdue on *Pilotage*, and raises one `pp-review-due` event (src/rest/events.ts) for the
// notifications — once per plan and validation, however often the check runs (D-126).
import { isObject, type FhirResource, type Json } from '../fhir/json.js';
import { EVENT_TYPES } from '../rest/events.js';
import { referenceKey, referenceKeys, validatingAccords } from '../tddui/ppa-accord.js';
import type { Queryable, ReadScope, Repository } from '../storage/types.js';
import { scopeSql } from '../storage/scope.js';

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

const daysIn = (y: number, m: number) => new Date(Date.UTC(y, m, 0)).getUTCDate();

/**
 * The day a validation counts from (D-255): the date written in the accord's dateTime (no time
 * zone conversion, as the page shows it); a year or a year-month alone is its first day; not a
 * calendar day: undefined (never due). Migration 0180's `ppa_validation_day` is the same rule.
 */
export function validationDay(validatedOn: string): string | undefined {
  const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(?:$|T)/.exec(validatedOn);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2] ?? 1), Number(m[3] ?? 1)];
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo)) return undefined;
  return `${m[1]}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

/**
 * The last validation day whose review is due by `today` (addMonths(day, months) <= today,
 * and addMonths never decreases): `today` minus `months`, or the end of that month when
 * `today` is the last day of its own (a validation on 31 January is due on 28 February).
 */
export function lastDueValidationDay(today: string, months: number): string {
  const back = addMonths(today, -months);
  const [y, m, d] = today.split('-').map(Number) as [number, number, number];
  if (d !== daysIn(y, m)) return back;
  const [by, bm] = back.split('-').map(Number) as [number, number];
  return `${back.slice(0, 8)}${String(daysIn(by, bm)).padStart(2, '0')}`;
}

const parisDay = (now: Date) => new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Paris' }).format(now);

/** The ESSMS of a usager: the FINESS of its local identifier (`3<FINESS>/<id>`, TDDUI "3+FINESS"). */
function finessOf(patient: FhirResource | undefined): string | undefined {
  const local = (Array.isArray(patient?.identifier) ? patient!.identifier : []).find((i) => isObject(i) && i.system === LOCAL_USAGER) as Json | undefined;
  const prefix = typeof local?.value === 'string' && local.value.includes('/') ? local.value.split('/')[0]! : undefined;
  return (prefix && /^3\d{9}$/.test(prefix) ? prefix.slice(1) : prefix) || undefined;
}

function nameOf(patient: Json | undefined): string | undefined {
  const name = (Array.isArray(patient?.name) ? patient!.name : [])[0] as Json | undefined;
  return name ? [...(Array.isArray(name.given) ? name.given : []), name.family].filter(Boolean).join(' ') : undefined;
}

function review(r: { patient: string; patientName?: string; carePlan: string; title?: unknown; finess?: string; validatedOn: string; dueOn: string }, today: string): DueReview {
  return {
    patient: r.patient,
    ...(r.patientName ? { patientName: r.patientName } : {}),
    carePlan: r.carePlan,
    ...(typeof r.title === 'string' ? { title: r.title } : {}),
    ...(r.finess ? { finess: r.finess } : {}),
    validatedOn: r.validatedOn,
    dueOn: r.dueOn,
    daysLate: Math.round((Date.parse(today) - Date.parse(r.dueOn)) / 86_400_000),
  };
}

const mostLateFirst = (a: DueReview, b: DueReview) => b.daysLate - a.daysLate || a.carePlan.localeCompare(b.carePlan);

export interface DueOptions {
  now?: Date;
  months?: number;
  /** Where to read (a page: `repo.derivedReader()`); by default the primary, its pending derived refresh drained first (D-356). */
  db?: Queryable;
}

/**
 * The active PPAs whose last validation is `months` or more before `now` (Paris day), most late
 * first: an index range of `ppa_validation` (migration 0180, kept from every write, D-356), then the
 * plans' titles and the usagers' names of those rows only.
 */
export async function dueReviews(repo: Repository, options: DueOptions = {}): Promise<DueReview[]> {
  const today = parisDay(options.now ?? new Date());
  const months = options.months ?? DEFAULT_REVIEW_MONTHS;
  if (!options.db) await repo.drainDerived();
  const db = options.db ?? repo.db;
  const { rows } = await db.query<{ careplan: string; patient: string; patient_id: string | null; finess: string | null; validated_on: string; day: string }>(
    `SELECT careplan, patient, patient_id, finess, validated_on, to_char(validated_day, 'YYYY-MM-DD') AS day
       FROM ppa_validation WHERE validated_day <= $1::date`,
    [lastDueValidationDay(today, months)],
  );
  const due = rows.map((r) => ({ ...r, dueOn: addMonths(r.day, months) })).filter((r) => r.dueOn <= today);
  if (due.length === 0) return [];
  const details = await db.query<{ resource_type: string; id: string; title: string | null; name: string | null }>(
    `SELECT r.resource_type, r.id, CASE WHEN jsonb_typeof(r.content->'title') = 'string' THEN r.content->>'title' END AS title,
            (r.content->'name')::text AS name
       FROM resource r JOIN unnest($1::text[], $2::text[]) AS k(t, i) ON r.resource_type = k.t AND r.id = k.i
      WHERE NOT r.deleted`,
    [[...due.map(() => 'CarePlan'), ...due.filter((r) => r.patient_id).map(() => 'Patient')], [...due.map((r) => r.careplan), ...due.filter((r) => r.patient_id).map((r) => r.patient_id!)]],
  );
  const byKey = new Map(details.rows.map((r) => [`${r.resource_type}/${r.id}`, r]));
  return due
    .map((r) => {
      const patient = r.patient_id ? byKey.get(`Patient/${r.patient_id}`) : undefined;
      return review(
        {
          patient: r.patient,
          patientName: patient?.name ? nameOf({ name: JSON.parse(patient.name) as unknown } as Json) : undefined,
          carePlan: `CarePlan/${r.careplan}`,
          title: byKey.get(`CarePlan/${r.careplan}`)?.title ?? undefined,
          finess: r.finess ?? undefined,
          validatedOn: r.validated_on,
          dueOn: r.dueOn,
        },
        today,
      );
    })
    .sort(mostLateFirst);
}

export interface DueReviewPageOptions {
  /** The Paris day (YYYY-MM-DD) the reviews are due by. */
  today: string;
  months?: number;
  /** One ESSMS only (its FINESS). */
  finess?: string;
  /** A restricted token's scope: its ESSMS only. */
  scope?: ReadScope;
  limit: number;
  offset: number;
  /** How many are due, when the caller knows it already (from dueReviewCounts): not counted again. */
  total?: number;
}

export interface DueReviewPage {
  /** How many reviews are due (in the scope and the ESSMS asked for). */
  total: number;
  /** This page of them, most late first (validation day, then the CarePlan's id). */
  items: DueReview[];
}

/**
 * One page of the due reviews, most late first — by validation day, then the CarePlan's id: a
 * range of the index `ppa_validation_due_idx` (validated_day, careplan), or of
 * `ppa_validation_finess_due_idx` (finess, validated_day, careplan) for one ESSMS (migration
 * 0191, D-300), with LIMIT/OFFSET; the plans' titles and usagers' names of that page's rows only.
 */
export async function dueReviewPage(db: Queryable, options: DueReviewPageOptions): Promise<DueReviewPage> {
  const months = options.months ?? DEFAULT_REVIEW_MONTHS;
  const params: unknown[] = [lastDueValidationDay(options.today, months)];
  const p = (v: unknown) => `$${params.push(v)}`;
  const where = [`v.validated_day <= $1::date`, scopeSql(options.scope, 'v.finess', p)];
  if (options.finess) where.push(`v.finess = ${p(options.finess)}`);
  const cond = where.filter((w) => w !== 'true').join(' AND ');
  const total = options.total ?? Number((await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ppa_validation v WHERE ${cond}`, [...params])).rows[0]?.n ?? 0);
  if (total === 0 || options.offset >= total) return { total, items: [] };
  const { rows } = await db.query<{ careplan: string; patient: string; finess: string | null; validated_on: string; day: string; title: string | null; name: string | null }>(
    `SELECT v.careplan, v.patient, v.finess, v.validated_on, to_char(v.validated_day, 'YYYY-MM-DD') AS day,
            CASE WHEN jsonb_typeof(c.content->'title') = 'string' THEN c.content->>'title' END AS title,
            (pt.content->'name')::text AS name
       FROM (SELECT * FROM ppa_validation v WHERE ${cond} ORDER BY v.validated_day, v.careplan LIMIT ${p(options.limit)} OFFSET ${p(options.offset)}) v
       LEFT JOIN resource c ON c.resource_type = 'CarePlan' AND c.id = v.careplan AND NOT c.deleted
       LEFT JOIN resource pt ON pt.resource_type = 'Patient' AND pt.id = v.patient_id AND NOT pt.deleted
      ORDER BY v.validated_day, v.careplan`,
    params,
  );
  const items = rows.map((r) =>
    review(
      {
        patient: r.patient,
        patientName: r.name ? nameOf({ name: JSON.parse(r.name) as unknown } as Json) : undefined,
        carePlan: `CarePlan/${r.careplan}`,
        title: r.title ?? undefined,
        finess: r.finess ?? undefined,
        validatedOn: r.validated_on,
        dueOn: addMonths(r.day, months),
      },
      options.today,
    ),
  );
  return { total, items };
}

/** How many PPAs are due for review by `today` (a Paris day), per ESSMS ('' when unknown): Pilotage's count. */
export async function dueReviewCounts(db: Queryable, today: string, months: number = DEFAULT_REVIEW_MONTHS): Promise<Map<string, number>> {
  const { rows } = await db.query<{ finess: string | null; day: string; n: number }>(
    `SELECT finess, to_char(validated_day, 'YYYY-MM-DD') AS day, count(*)::int AS n
       FROM ppa_validation WHERE validated_day <= $1::date GROUP BY 1, 2`,
    [lastDueValidationDay(today, months)],
  );
  const out = new Map<string, number>();
  for (const r of rows) if (addMonths(r.day, months) <= today) out.set(r.finess ?? '', (out.get(r.finess ?? '') ?? 0) + r.n);
  return out;
}

/**
 * The same list computed from the stored resources (every active CarePlan, the Consents it
 * names, its usager), by the definitions of tddui/ppa-accord.ts: the reference the maintained
 * table is tested against (src/coordination/ppa-validation.test.ts).
 */
export async function recomputeDueReviews(repo: Repository, options: { now?: Date; months?: number } = {}): Promise<DueReview[]> {
  const today = parisDay(options.now ?? new Date());
  const months = options.months ?? DEFAULT_REVIEW_MONTHS;
  const plans = await searchAll(repo, 'CarePlan', [{ name: 'status', values: ['active'] }]);
  const consentIds = plans.flatMap((p) => referenceKeys(p.supportingInfo)).filter((k) => k.startsWith('Consent/')).map((k) => k.slice(8));
  const consents = await byIds(repo, 'Consent', consentIds);
  const subjectOf = (p: FhirResource) => referenceKey(isObject(p.subject) ? p.subject.reference : undefined);
  const patients = await byIds(repo, 'Patient', plans.map(subjectOf).filter((k): k is string => !!k?.startsWith('Patient/')).map((k) => k.slice(8)));
  const out: DueReview[] = [];
  for (const plan of plans) {
    const validatedOn = validatingAccords(plan, (k) => consents.get(k))
      .map((c) => c.dateTime)
      .filter((d): d is string => typeof d === 'string' && d !== '')
      .sort()
      .pop();
    if (!validatedOn) continue; // never validated: not a yearly review (yet)
    const day = validationDay(validatedOn);
    if (!day) continue;
    const dueOn = addMonths(day, months);
    if (dueOn > today) continue;
    const patientRef = subjectOf(plan) ?? '';
    const patient = patients.get(patientRef);
    out.push(review({ patient: patientRef, patientName: nameOf(patient), carePlan: `CarePlan/${plan.id}`, title: plan.title, finess: finessOf(patient), validatedOn, dueOn }, today));
  }
  return out.sort(mostLateFirst);
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

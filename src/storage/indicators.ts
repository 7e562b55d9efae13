// Read-only aggregate queries for the web UI's "Pilotage SSIAD" page (and the few lookups of
// the usager page that no FHIR search parameter covers). They read the current versions in
// `resource` (migration 0001: resource_type, id, version_id, last_updated, deleted, owner,
// content jsonb) and never write.
//
// The organisation of a business object is read from its business identifier: every TDDUI
// identifier value starts with `3` + FINESS + `/` (TRE_G08 type 3, "identifier internal to a
// structure"), so events, transports, evaluations and usagers group by FINESS without
// following references. Organization names come from the stored Organizations (idNatSt =
// `1` + FINESS).
import type { Queryable } from './types.js';

const SYS_LOCAL = 'https://identifiant-medicosocial-localusager.esante.gouv.fr';
const SYS_SEJOUR = 'https://identifiant-medicosocial-sejour.esante.gouv.fr';
const SYS_EVENEMENT = 'https://identifiant-medicosocial-evenement.esante.gouv.fr';
const SYS_TR_USAGER = 'https://identifiant-medicosocial-transportusager.esante.gouv.fr';
const SYS_TR_PRO = 'https://identifiant-medicosocial-transportprofessionnel.esante.gouv.fr';
const SYS_IDNATST = 'urn:oid:1.2.250.1.71.4.2.2';
const AGGIR = '/Questionnaire/tddui-questionnaire-aggir-';

/** GIR codes of the AGGIR "resultat-eval" item (terminologie-cisis MED-339…MED-344). */
export const GIR_CODES: Record<string, number> = { 'MED-339': 1, 'MED-340': 2, 'MED-341': 3, 'MED-342': 4, 'MED-343': 5, 'MED-344': 6 };

// SQL fragments (constants only: jsonpath literals are ours, values travel as parameters).
const hasSystem = (system: string) => `jsonb_path_exists(r.content, '$.identifier[*] ? (@.system == "${system}")')`;
const bizId = `(jsonb_path_query_first(r.content, '$.identifier[*].value') #>> '{}')`;
const patientLocalId = `(jsonb_path_query_first(r.content, '$.identifier[*] ? (@.system == "${SYS_LOCAL}").value') #>> '{}')`;
const finessOf = (idExpr: string) => `substring(${idExpr} from '^3([^/]+)/')`;
/** A FHIR date/dateTime text as a date (the calendar day as written), or NULL. */
const asDate = (textExpr: string) => `(CASE WHEN ${textExpr} ~ '^\\d{4}-\\d{2}-\\d{2}' THEN substring(${textExpr} from 1 for 10)::date END)`;

export interface IndicatorFilter {
  /** Only this organisation (FINESS, 9 characters). */
  finess?: string;
}

export interface Organisation {
  finess: string;
  name?: string;
}

/** Organisations seen in the data: FINESS found in business identifiers, with stored names. */
export async function listOrganisations(db: Queryable): Promise<Organisation[]> {
  const res = await db.query<{ finess: string; name: string | null }>(
    `WITH f AS (
       SELECT DISTINCT ${finessOf(bizId)} AS finess FROM resource r
        WHERE r.deleted = false AND r.resource_type IN ('Patient', 'Encounter', 'Task', 'QuestionnaireResponse', 'CarePlan')
     ), o AS (
       SELECT substring(jsonb_path_query_first(r.content, '$.identifier[*] ? (@.system == "${SYS_IDNATST}").value') #>> '{}' from 2) AS finess,
              max(r.content->>'name') AS name
         FROM resource r WHERE r.deleted = false AND r.resource_type = 'Organization' GROUP BY 1
     )
     SELECT coalesce(f.finess, o.finess) AS finess, o.name
       FROM f FULL JOIN o ON o.finess = f.finess
      WHERE coalesce(f.finess, o.finess) IS NOT NULL
      ORDER BY 1`,
  );
  return res.rows.map((r) => (r.name ? { finess: r.finess, name: r.name } : { finess: r.finess }));
}

export interface UsagerCounts {
  /** Usagers (Patients) stored. */
  usagers: number;
  /** Usagers with a séjour in progress on `today`. */
  active: number;
  /** Séjours in progress on `today`. */
  activeStays: number;
}

/**
 * A séjour is in progress on `today` when it started on or before that day, has not ended
 * before it, and its status is not finished / cancelled / entered-in-error.
 */
const ACTIVE_STAY = (todayParam: string) => `r.resource_type = 'Encounter' AND r.deleted = false AND ${hasSystem(SYS_SEJOUR)}
  AND coalesce(r.content->>'status', '') NOT IN ('finished', 'cancelled', 'entered-in-error')
  AND (${asDate(`(r.content->'period'->>'start')`)} IS NULL OR ${asDate(`(r.content->'period'->>'start')`)} <= ${todayParam}::date)
  AND (${asDate(`(r.content->'period'->>'end')`)} IS NULL OR ${asDate(`(r.content->'period'->>'end')`)} >= ${todayParam}::date)`;

export async function usagerCounts(db: Queryable, today: string, f: IndicatorFilter = {}): Promise<UsagerCounts> {
  const fin = f.finess ?? null;
  const res = await db.query<{ usagers: number; active: number; stays: number }>(
    `SELECT
       (SELECT count(*)::int FROM resource r WHERE r.resource_type = 'Patient' AND r.deleted = false
           AND ($2::text IS NULL OR ${finessOf(patientLocalId)} = $2)) AS usagers,
       (SELECT count(DISTINCT r.content->'subject'->>'reference')::int FROM resource r WHERE ${ACTIVE_STAY('$1')}
           AND ($2::text IS NULL OR ${finessOf(bizId)} = $2)) AS active,
       (SELECT count(*)::int FROM resource r WHERE ${ACTIVE_STAY('$1')}
           AND ($2::text IS NULL OR ${finessOf(bizId)} = $2)) AS stays`,
    [today, fin],
  );
  const row = res.rows[0];
  return { usagers: Number(row.usagers), active: Number(row.active), activeStays: Number(row.stays) };
}

export interface GirDistribution {
  /** Usagers whose latest AGGIR evaluation gives GIR n (index 0 = GIR 1). */
  counts: number[];
  /** Latest AGGIR evaluations whose result is absent or not a known GIR code. */
  unknown: number;
  evaluated: number;
}

/** GIR of each usager's latest AGGIR evaluation (PA or PH grid), counted per GIR. */
export async function girDistribution(db: Queryable, f: IndicatorFilter = {}): Promise<GirDistribution> {
  const res = await db.query<{ code: string | null; n: number }>(
    `WITH latest AS (
       SELECT DISTINCT ON (r.content->'subject'->>'reference')
              jsonb_path_query_first(r.content, '$.item[*] ? (@.linkId == "resultat-eval").answer[0].valueCoding.code') #>> '{}' AS code
         FROM resource r
        WHERE r.resource_type = 'QuestionnaireResponse' AND r.deleted = false
          AND position($1 in coalesce(r.content->>'questionnaire', '')) > 0
          AND coalesce(r.content->>'status', '') <> 'entered-in-error'
          AND ($2::text IS NULL OR ${finessOf(bizId)} = $2)
        ORDER BY r.content->'subject'->>'reference', r.content->>'authored' DESC NULLS LAST, r.last_updated DESC
     )
     SELECT code, count(*)::int AS n FROM latest GROUP BY code`,
    [AGGIR, f.finess ?? null],
  );
  const counts = [0, 0, 0, 0, 0, 0];
  let unknown = 0;
  let evaluated = 0;
  for (const row of res.rows) {
    const n = Number(row.n);
    evaluated += n;
    const g = row.code ? GIR_CODES[row.code] : undefined;
    if (g) counts[g - 1] += n;
    else unknown += n;
  }
  return { counts, unknown, evaluated };
}

export interface WeekRow {
  /** Monday of the week, YYYY-MM-DD. */
  week: string;
  events: number;
  transportsUsager: number;
  transportsPro: number;
}

/** Events (agenda Encounters) and transports (Tasks) per ISO week, weeks [fromMonday, toMonday]. */
export async function weeklyActivity(db: Queryable, fromMonday: string, toMonday: string, f: IndicatorFilter = {}): Promise<WeekRow[]> {
  const start = (path: string) => asDate(`(r.content->'${path}'->>'start')`);
  const res = await db.query<{ week: string; kind: string; n: number }>(
    `WITH items AS (
       SELECT date_trunc('week', ${start('period')})::date AS week, 'evt' AS kind
         FROM resource r
        WHERE r.resource_type = 'Encounter' AND r.deleted = false AND ${hasSystem(SYS_EVENEMENT)}
          AND ($3::text IS NULL OR ${finessOf(bizId)} = $3)
       UNION ALL
       SELECT date_trunc('week', ${start('executionPeriod')})::date,
              CASE WHEN ${hasSystem(SYS_TR_PRO)} THEN 'pro' ELSE 'usager' END
         FROM resource r
        WHERE r.resource_type = 'Task' AND r.deleted = false AND (${hasSystem(SYS_TR_USAGER)} OR ${hasSystem(SYS_TR_PRO)})
          AND ($3::text IS NULL OR ${finessOf(bizId)} = $3)
     )
     SELECT to_char(week, 'YYYY-MM-DD') AS week, kind, count(*)::int AS n FROM items
      WHERE week BETWEEN $1::date AND $2::date GROUP BY week, kind ORDER BY week`,
    [fromMonday, toMonday, f.finess ?? null],
  );
  const byWeek = new Map<string, WeekRow>();
  for (const row of res.rows) {
    const w = byWeek.get(row.week) ?? { week: row.week, events: 0, transportsUsager: 0, transportsPro: 0 };
    if (row.kind === 'evt') w.events += Number(row.n);
    else if (row.kind === 'pro') w.transportsPro += Number(row.n);
    else w.transportsUsager += Number(row.n);
    byWeek.set(row.week, w);
  }
  return [...byWeek.values()];
}

/** Monday of the latest week with an event or a transport (to centre the charts on the data). */
export async function latestActivityWeek(db: Queryable, f: IndicatorFilter = {}): Promise<string | undefined> {
  const res = await db.query<{ week: string | null }>(
    `SELECT to_char(date_trunc('week', max(d))::date, 'YYYY-MM-DD') AS week FROM (
       SELECT ${asDate(`(r.content->'period'->>'start')`)} AS d FROM resource r
        WHERE r.resource_type = 'Encounter' AND r.deleted = false AND ${hasSystem(SYS_EVENEMENT)}
          AND ($1::text IS NULL OR ${finessOf(bizId)} = $1)
       UNION ALL
       SELECT ${asDate(`(r.content->'executionPeriod'->>'start')`)} FROM resource r
        WHERE r.resource_type = 'Task' AND r.deleted = false AND (${hasSystem(SYS_TR_USAGER)} OR ${hasSystem(SYS_TR_PRO)})
          AND ($1::text IS NULL OR ${finessOf(bizId)} = $1)
     ) x`,
    [f.finess ?? null],
  );
  return res.rows[0]?.week ?? undefined;
}

export interface OrganisationRow {
  finess: string;
  name?: string;
  usagers: number;
  active: number;
  events: number;
  transports: number;
  evaluations: number;
}

/** One row per organisation: usagers, active usagers on `today`, and events / transports in [from, to]. */
export async function perOrganisation(db: Queryable, today: string, fromMonday: string, toMonday: string): Promise<OrganisationRow[]> {
  const res = await db.query<{ finess: string; kind: string; n: number }>(
    `SELECT ${finessOf(patientLocalId)} AS finess, 'usagers' AS kind, count(*)::int AS n
       FROM resource r WHERE r.resource_type = 'Patient' AND r.deleted = false GROUP BY 1
     UNION ALL
     SELECT ${finessOf(bizId)}, 'active', count(DISTINCT r.content->'subject'->>'reference')::int
       FROM resource r WHERE ${ACTIVE_STAY('$1')} GROUP BY 1
     UNION ALL
     SELECT ${finessOf(bizId)}, 'events', count(*)::int
       FROM resource r WHERE r.resource_type = 'Encounter' AND r.deleted = false AND ${hasSystem(SYS_EVENEMENT)}
        AND ${asDate(`(r.content->'period'->>'start')`)} >= $2::date AND ${asDate(`(r.content->'period'->>'start')`)} < $3::date + 7
      GROUP BY 1
     UNION ALL
     SELECT ${finessOf(bizId)}, 'transports', count(*)::int
       FROM resource r WHERE r.resource_type = 'Task' AND r.deleted = false AND (${hasSystem(SYS_TR_USAGER)} OR ${hasSystem(SYS_TR_PRO)})
        AND ${asDate(`(r.content->'executionPeriod'->>'start')`)} >= $2::date AND ${asDate(`(r.content->'executionPeriod'->>'start')`)} < $3::date + 7
      GROUP BY 1
     UNION ALL
     SELECT ${finessOf(bizId)}, 'evaluations', count(*)::int
       FROM resource r WHERE r.resource_type = 'QuestionnaireResponse' AND r.deleted = false GROUP BY 1`,
    [today, fromMonday, toMonday],
  );
  const orgs = new Map((await listOrganisations(db)).map((o) => [o.finess, o.name]));
  const rows = new Map<string, OrganisationRow>();
  for (const r of res.rows) {
    if (!r.finess) continue;
    const row = rows.get(r.finess) ?? { finess: r.finess, usagers: 0, active: 0, events: 0, transports: 0, evaluations: 0 };
    const name = orgs.get(r.finess);
    if (name) row.name = name;
    (row as unknown as Record<string, number>)[r.kind] = Number(r.n);
    rows.set(r.finess, row);
  }
  return [...rows.values()].sort((a, b) => b.usagers - a.usagers || a.finess.localeCompare(b.finess));
}

/**
 * The projet personnalisé Tasks of one usager (actions, moyens, prestations, bilans) that no
 * search parameter finds: an action is linked to its objectif by a Task.input valueReference,
 * and the official PA example's actions name another CarePlan in basedOn. Returns the current
 * Tasks that reference one of `refs` (`Type/id`) in basedOn, partOf or an input valueReference.
 */
export async function tasksReferencing(db: Queryable, refs: string[]): Promise<Record<string, unknown>[]> {
  if (refs.length === 0) return [];
  const res = await db.query<{ content: Record<string, unknown> | string }>(
    `SELECT r.content FROM resource r
      WHERE r.resource_type = 'Task' AND r.deleted = false
        AND EXISTS (
          SELECT 1 FROM jsonb_array_elements_text($1::jsonb) AS t(ref)
           WHERE r.content->'basedOn' @> jsonb_build_array(jsonb_build_object('reference', t.ref))
              OR r.content->'partOf' @> jsonb_build_array(jsonb_build_object('reference', t.ref))
              OR r.content->'input' @> jsonb_build_array(jsonb_build_object('valueReference', jsonb_build_object('reference', t.ref))))
      LIMIT 2000`,
    [JSON.stringify(refs)],
  );
  return res.rows.map((r) => (typeof r.content === 'string' ? (JSON.parse(r.content) as Record<string, unknown>) : r.content));
}

/** Organisations that sent submissions (accepted or rejected), for the submissions filter. */
export async function submissionOrganisations(db: Queryable): Promise<Organisation[]> {
  const res = await db.query<{ finess: string; name: string | null }>(
    `SELECT organization_finess AS finess, max(organization_name) AS name FROM submission
      WHERE organization_finess IS NOT NULL GROUP BY organization_finess ORDER BY 2 NULLS LAST, 1 LIMIT 500`,
  );
  return res.rows.map((r) => (r.name ? { finess: r.finess, name: r.name } : { finess: r.finess }));
}

/** Names of the stored Organizations by FINESS (idNatSt `1` + FINESS). */
export async function organisationNames(db: Queryable): Promise<Map<string, string>> {
  const res = await db.query<{ finess: string | null; name: string | null }>(
    `SELECT substring(jsonb_path_query_first(r.content, '$.identifier[*] ? (@.system == "${SYS_IDNATST}").value') #>> '{}' from 2) AS finess,
            max(r.content->>'name') AS name
       FROM resource r WHERE r.deleted = false AND r.resource_type = 'Organization' GROUP BY 1`,
  );
  const out = new Map<string, string>();
  for (const r of res.rows) if (r.finess && r.name) out.set(r.finess, r.name);
  return out;
}

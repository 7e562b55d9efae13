// Read-only aggregate queries for the web UI's "Pilotage" page (and the few lookups of
// the usager page that no FHIR search parameter covers). They read the current versions in
// `resource` (migration 0001: resource_type, id, version_id, last_updated, deleted, owner,
// content jsonb) and never write.
//
// The organisation of a business object is read from its business identifier: every TDDUI
// identifier value starts with `3` + FINESS + `/` (TRE_G08 type 3, "identifier internal to a
// structure"), so events, transports, evaluations and usagers group by FINESS without
// following references. Organization names come from the stored Organizations (idNatSt =
// `1` + FINESS).
import type { Database, Queryable } from './types.js';
import { STORED_TYPES } from './rows.js';

const SYS_LOCAL = 'https://identifiant-medicosocial-localusager.esante.gouv.fr';
const SYS_SEJOUR = 'https://identifiant-medicosocial-sejour.esante.gouv.fr';
const SYS_EVENEMENT = 'https://identifiant-medicosocial-evenement.esante.gouv.fr';
const SYS_TR_USAGER = 'https://identifiant-medicosocial-transportusager.esante.gouv.fr';
const SYS_TR_PRO = 'https://identifiant-medicosocial-transportprofessionnel.esante.gouv.fr';
const SYS_IDNATST = 'urn:oid:1.2.250.1.71.4.2.2';

/** GIR codes of the AGGIR "resultat-eval" item (terminologie-cisis MED-339…MED-344). */
export const GIR_CODES: Record<string, number> = { 'MED-339': 1, 'MED-340': 2, 'MED-341': 3, 'MED-342': 4, 'MED-343': 5, 'MED-344': 6 };

// The aggregates read the search index tables (search_token, search_date, search_reference:
// narrow rows of the current, non-deleted versions, B-tree indexed) rather than the JSON
// content, which would mean decompressing every resource; only the GIR needs content, and only
// for each usager's latest AGGIR evaluation.
const TZ = 'Europe/Paris';
/** Business objects of one kind: id and FINESS, from the identifier token of `system`. */
const objects = (type: string, systems: string[]) =>
  `SELECT t.id, substring(t.code from '^3([^/]+)/') AS finess, t.system FROM search_token t
    WHERE t.resource_type = '${type}' AND t.param = 'identifier' AND t.system IN (${systems.map((x) => `'${x}'`).join(', ')})`;
/** Local midnight (Paris) starting the calendar day `param` (a date), as timestamptz. */
const dayStart = (param: string) => `(${param}::date::timestamp AT TIME ZONE '${TZ}')`;
const localDay = (col: string) => `(${col} AT TIME ZONE '${TZ}')::date`;

export interface Organisation {
  finess: string;
  name?: string;
}

/** Organisations seen in the data: FINESS of the usagers' local identifiers (pilotage_count) and of the stored Organizations. */
export async function listOrganisations(db: Queryable): Promise<Organisation[]> {
  const res = await db.query<{ finess: string; name: string | null }>(
    `WITH f AS (
       -- The usagers' organisations, from the counts the writes keep (migration 0161).
       SELECT finess FROM pilotage_count WHERE kind = 'usagers' AND finess <> '' GROUP BY finess HAVING sum(n) > 0
     ), o AS (
       SELECT substring(t.code from 2) AS finess, max(s.exact) AS name
         FROM search_token t
         LEFT JOIN search_string s ON s.resource_type = 'Organization' AND s.id = t.id AND s.param = 'name'
        WHERE t.resource_type = 'Organization' AND t.param = 'identifier' AND t.system = '${SYS_IDNATST}' AND t.code LIKE '1%'
        GROUP BY 1
     )
     SELECT coalesce(f.finess, o.finess) AS finess, o.name FROM f FULL JOIN o ON o.finess = f.finess ORDER BY 1`,
  );
  return res.rows.map((r) => (r.name ? { finess: r.finess, name: r.name } : { finess: r.finess }));
}

/**
 * Séjours in progress on the day `$1` (Paris time): their period covers some of that day (or
 * is absent) and their status is not finished / cancelled / entered-in-error.
 */
const ACTIVE_STAYS = `SELECT o.id, o.finess, s.target_id AS patient
    FROM (${objects('Encounter', [SYS_SEJOUR])}) o
    LEFT JOIN search_date d ON d.resource_type = 'Encounter' AND d.id = o.id AND d.param = 'date'
    LEFT JOIN search_reference s ON s.resource_type = 'Encounter' AND s.id = o.id AND s.param = 'subject'
   WHERE (d.id IS NULL OR (d.low < ${dayStart('$1')} + interval '1 day' AND d.high >= ${dayStart('$1')}))
     AND NOT EXISTS (SELECT 1 FROM search_token st WHERE st.resource_type = 'Encounter' AND st.id = o.id
                        AND st.param = 'status' AND st.code IN ('finished', 'cancelled', 'entered-in-error'))`;

export interface UsagerCounts {
  /** FINESS ('' when the identifier does not carry one). */
  finess: string;
  /** Usagers (Patients) stored. */
  usagers: number;
  /** Usagers with a séjour in progress on `today`. */
  active: number;
  /** Séjours in progress on `today`. */
  activeStays: number;
}

/** Usagers, active usagers and séjours in progress on `today`, per organisation. */
export async function usagersByOrganisation(db: Queryable, today: string): Promise<UsagerCounts[]> {
  const res = await db.query<{ finess: string | null; kind: string; n: number }>(
    `WITH a AS MATERIALIZED (${ACTIVE_STAYS})
     SELECT finess, 'usagers' AS kind, count(*)::int AS n FROM (${objects('Patient', [SYS_LOCAL])}) p GROUP BY 1
     UNION ALL
     SELECT finess, 'active', count(DISTINCT patient)::int FROM a GROUP BY 1
     UNION ALL
     SELECT finess, 'stays', count(*)::int FROM a GROUP BY 1`,
    [today],
  );
  const rows = new Map<string, UsagerCounts>();
  for (const r of res.rows) {
    const f = r.finess ?? '';
    const row = rows.get(f) ?? { finess: f, usagers: 0, active: 0, activeStays: 0 };
    if (r.kind === 'usagers') row.usagers += Number(r.n);
    else if (r.kind === 'active') row.active += Number(r.n);
    else row.activeStays += Number(r.n);
    rows.set(f, row);
  }
  return [...rows.values()];
}

export interface GirRow {
  finess: string;
  /** GIR 1…6, or undefined when the result is absent or not a known code. */
  gir?: number;
  usagers: number;
}

const AGGIR_URLS = ['aggir-pa-ssiad', 'aggir-ph-ssiad'].map((g) => `https://interop.esante.gouv.fr/ig/fhir/tddui/Questionnaire/tddui-questionnaire-${g}`);

/**
 * GIR of each usager's latest AGGIR evaluation (PA or PH grid), counted per organisation and
 * GIR. With `until` (a day, Paris time): the latest evaluation authored on or before that day
 * (an evaluation without a date counts whatever the day).
 */
export async function girByOrganisation(db: Queryable, until?: string): Promise<GirRow[]> {
  const res = await db.query<{ finess: string | null; code: string | null; n: number }>(
    `WITH qr AS (
       SELECT q.id, s.target_id AS patient, substring(t.code from '^3([^/]+)/') AS finess, a.low AS authored
         FROM search_reference q
         JOIN search_reference s ON s.resource_type = 'QuestionnaireResponse' AND s.id = q.id AND s.param = 'subject'
         LEFT JOIN search_token t ON t.resource_type = 'QuestionnaireResponse' AND t.id = q.id AND t.param = 'identifier'
         LEFT JOIN search_date a ON a.resource_type = 'QuestionnaireResponse' AND a.id = q.id AND a.param = 'authored'
        WHERE q.resource_type = 'QuestionnaireResponse' AND q.param = 'questionnaire'
          AND (q.url = ANY($1::text[]) OR split_part(q.url, '|', 1) = ANY($1::text[]))
          AND NOT EXISTS (SELECT 1 FROM search_token st WHERE st.resource_type = 'QuestionnaireResponse' AND st.id = q.id
                             AND st.param = 'status' AND st.code = 'entered-in-error')
          AND ($2::text IS NULL OR a.low IS NULL OR a.low < ${dayStart('$2')} + interval '1 day')
     ), latest AS (
       SELECT DISTINCT ON (patient) id, finess FROM qr ORDER BY patient, authored DESC NULLS LAST, id
     )
     SELECT latest.finess,
            jsonb_path_query_first(r.content, '$.item[*] ? (@.linkId == "resultat-eval").answer[0].valueCoding.code') #>> '{}' AS code,
            count(*)::int AS n
       FROM latest JOIN resource r ON r.resource_type = 'QuestionnaireResponse' AND r.id = latest.id
      GROUP BY 1, 2`,
    [AGGIR_URLS, until ?? null],
  );
  return res.rows.map((r) => {
    const gir = r.code ? GIR_CODES[r.code] : undefined;
    return gir ? { finess: r.finess ?? '', gir, usagers: Number(r.n) } : { finess: r.finess ?? '', usagers: Number(r.n) };
  });
}

export interface ActivityRow {
  finess: string;
  /** Monday of the ISO week (Paris time), YYYY-MM-DD. */
  week: string;
  kind: 'evt' | 'usager' | 'pro';
  n: number;
}

/**
 * Events (Encounter évènement, by period start) and transports (Task usager / professionnel,
 * by executionPeriod start), counted per organisation and ISO week, over all stored weeks.
 */
export async function activityByWeek(db: Queryable): Promise<ActivityRow[]> {
  const res = await db.query<{ finess: string | null; week: string; kind: ActivityRow['kind']; n: number }>(
    `SELECT x.finess, to_char(date_trunc('week', ${localDay('x.low')}), 'YYYY-MM-DD') AS week, x.kind, count(*)::int AS n
       FROM (
         SELECT 'evt' AS kind, o.finess, d.low
           FROM (${objects('Encounter', [SYS_EVENEMENT])}) o
           JOIN search_date d ON d.resource_type = 'Encounter' AND d.id = o.id AND d.param = 'date'
         UNION ALL
         SELECT CASE WHEN o.system = '${SYS_TR_PRO}' THEN 'pro' ELSE 'usager' END, o.finess, d.low
           FROM (${objects('Task', [SYS_TR_USAGER, SYS_TR_PRO])}) o
           JOIN search_date d ON d.resource_type = 'Task' AND d.id = o.id AND d.param = 'period'
       ) x
      WHERE x.low > '-infinity' AND x.low < 'infinity'
      GROUP BY 1, 2, 3`,
  );
  return res.rows.map((r) => ({ finess: r.finess ?? '', week: r.week, kind: r.kind, n: Number(r.n) }));
}

/** Evaluations (all questionnaires) per organisation; with `until`, those authored on or before that day (or undated). */
export async function evaluationsByOrganisation(db: Queryable, until?: string): Promise<Map<string, number>> {
  const res = await db.query<{ finess: string | null; n: number }>(
    `SELECT substring(t.code from '^3([^/]+)/') AS finess, count(*)::int AS n
       FROM search_token t
       LEFT JOIN search_date a ON a.resource_type = 'QuestionnaireResponse' AND a.id = t.id AND a.param = 'authored'
      WHERE t.resource_type = 'QuestionnaireResponse' AND t.param = 'identifier'
        AND ($1::text IS NULL OR a.low IS NULL OR a.low < ${dayStart('$1')} + interval '1 day')
      GROUP BY 1`,
    [until ?? null],
  );
  return new Map(res.rows.map((r) => [r.finess ?? '', Number(r.n)]));
}

/**
 * Current Tasks whose business identifier starts with `<localId>-` (business rule R4: the
 * identifiers of a usager's objects are built from the usager's local id). The usager page
 * uses it to find projet personnalisé actions whose own links do not lead to the usager (the
 * official PA example's actions name another CarePlan in basedOn).
 */
export async function tasksOfLocalId(db: Queryable, localId: string): Promise<Record<string, unknown>[]> {
  const prefix = localId.replace(/[\\%_]/g, (c) => `\\${c}`) + '-%';
  const res = await db.query<{ content: Record<string, unknown> | string }>(
    `SELECT r.content FROM resource r
      WHERE r.resource_type = 'Task' AND r.deleted = false
        AND r.id IN (SELECT t.id FROM search_token t WHERE t.resource_type = 'Task' AND t.param = 'identifier' AND t.code LIKE $1)
      LIMIT 2000`,
    [prefix],
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
  const out = new Map<string, string>();
  for (const o of await listOrganisationNames(db)) out.set(o.finess, o.name);
  return out;
}

async function listOrganisationNames(db: Queryable): Promise<{ finess: string; name: string }[]> {
  const res = await db.query<{ finess: string; name: string }>(
    `SELECT substring(t.code from 2) AS finess, max(s.exact) AS name
       FROM search_token t
       JOIN search_string s ON s.resource_type = 'Organization' AND s.id = t.id AND s.param = 'name'
      WHERE t.resource_type = 'Organization' AND t.param = 'identifier' AND t.system = '${SYS_IDNATST}' AND t.code LIKE '1%'
      GROUP BY 1`,
  );
  return res.rows;
}

/**
 * Runs aggregate queries in one read-only transaction with nested loops disabled: PGlite has
 * no autovacuum, so its tables carry no statistics and the planner, guessing one row per
 * table, would pick nested loops that go quadratic on whole-table aggregates; hash and merge
 * joins are right for these queries whatever the statistics.
 */
export async function readAggregates<T>(db: Database, fn: (q: Queryable) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.query('SET TRANSACTION READ ONLY');
    await tx.query('SET LOCAL enable_nestloop = off');
    return fn(tx);
  });
}

/**
 * Changes whenever a resource or a submission is written. The newest `last_updated` is the
 * newest of each type's (`STORED_TYPES`: an index descent per type, no index on the column
 * alone since D-354); `received_at` is indexed.
 */
export async function dataStamp(db: Queryable): Promise<string> {
  const res = await db.query<{ r: unknown; s: unknown; n: number }>(
    `WITH RECURSIVE ${STORED_TYPES}
     SELECT (SELECT max((SELECT max(r.last_updated) FROM resource r WHERE r.resource_type = st.t)) FROM stored_types st WHERE st.t IS NOT NULL) AS r,
            (SELECT max(received_at) FROM submission) AS s`,
  );
  const row = res.rows[0];
  const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : String(v ?? ''));
  return `${iso(row?.r)}|${iso(row?.s)}`;
}

export interface UsagerSubmission {
  id: string;
  receivedAt: string;
  outcome: 'accepted' | 'rejected';
  errorCount: number;
  warningCount: number;
  resourceCount: number;
  /** IG version the submission was validated under (migration 0020; absent before). */
  ig?: string;
}

/**
 * The submissions that concerned a usager: accepted ones by the stored Patient id, and any
 * (rejected ones too) by the local identifier. Newest first, at most `limit`.
 */
export async function submissionsOfUsager(db: Queryable, patientId: string, localId: string | undefined, limit = 20): Promise<UsagerSubmission[]> {
  const res = await db.query<{ id: string; received_at: Date | string; outcome: 'accepted' | 'rejected'; error_count: number; warning_count: number; resource_count: number; ig: string | null }>(
    `SELECT id, received_at, outcome, error_count, warning_count, resource_count, ig FROM submission
      WHERE usagers @> jsonb_build_array(jsonb_build_object('id', $1::text))
         OR ($2::text IS NOT NULL AND usagers @> jsonb_build_array(jsonb_build_object('localId', $2::text)))
      ORDER BY received_at DESC, id DESC LIMIT ${Math.max(1, Math.floor(limit))}`,
    [patientId, localId ?? null],
  );
  return res.rows.map((r) => ({
    id: r.id,
    receivedAt: (r.received_at instanceof Date ? r.received_at : new Date(r.received_at)).toISOString(),
    outcome: r.outcome,
    errorCount: Number(r.error_count),
    warningCount: Number(r.warning_count),
    resourceCount: Number(r.resource_count),
    ...(r.ig ? { ig: r.ig } : {}),
  }));
}

export interface PilotageFigures {
  usagers: UsagerCounts[];
  gir: GirRow[];
  activity: ActivityRow[];
  evaluations: Map<string, number>;
}

/**
 * The Pilotage figures on `today` from the counts maintained by every write (migration 0161,
 * D-212): the same figures as usagersByOrganisation, girByOrganisation, activityByWeek and
 * evaluationsByOrganisation compute from every stored resource, read from a table whose size
 * grows with the organisations and the days that carry data, not with the usagers. One query.
 */
export async function pilotageFigures(db: Queryable, today: string): Promise<PilotageFigures> {
  const res = await db.query<{ kind: string; finess: string; key: number; week: string | null; n: number }>(
    `SELECT kind, finess, key, CASE WHEN kind IN ('evt', 'usager', 'pro') THEN to_char(day, 'YYYY-MM-DD') END AS week, sum(n)::int AS n
       FROM pilotage_count
      WHERE kind IN ('evt', 'usager', 'pro', 'usagers') OR (kind IN ('stays', 'active', 'gir', 'eval') AND day <= $1::date)
      GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0`,
    [today],
  );
  const usagers = new Map<string, UsagerCounts>();
  const row = (f: string) => usagers.get(f) ?? (usagers.set(f, { finess: f, usagers: 0, active: 0, activeStays: 0 }), usagers.get(f)!);
  const out: PilotageFigures = { usagers: [], gir: [], activity: [], evaluations: new Map() };
  for (const r of res.rows) {
    const n = Number(r.n);
    if (r.kind === 'usagers') row(r.finess).usagers += n;
    else if (r.kind === 'active') row(r.finess).active += n;
    else if (r.kind === 'stays') row(r.finess).activeStays += n;
    else if (r.kind === 'eval') out.evaluations.set(r.finess, n);
    else if (r.kind === 'gir') out.gir.push(r.key ? { finess: r.finess, gir: Number(r.key), usagers: n } : { finess: r.finess, usagers: n });
    else out.activity.push({ finess: r.finess, week: r.week!, kind: r.kind as ActivityRow['kind'], n });
  }
  out.usagers = [...usagers.values()];
  return out;
}

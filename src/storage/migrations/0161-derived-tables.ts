// Tables the web UI reads instead of recomputing over every resource (issue 19, D-211, D-212),
// maintained by the write itself: `derived_refresh(types, ids)` runs in the writing transaction,
// right after the versions and their index rows are written (storage/writer.ts), for the
// resources written; a migration backfills them once from the stored data.
//
// usager_sort — one row per current Patient: the sort keys of the "Usagers" list (the name
//   shown: usage name, else birth name; the FINESS and local identifier; birth date; gender;
//   last update; the owner, for a reader's scope), each B-tree indexed so that a page is an index range, first or deep.
//
// pilotage_count — the Pilotage indicators as difference arrays: (kind, finess, key, day, n).
//   A figure "on day D" is the sum of n over day <= D: usagers (day -infinity), séjours in
//   progress (+1 the first day, -1 the day after the last), active usagers (the same over the
//   union of each usager's séjours in an organisation), the GIR of each usager's latest AGGIR
//   evaluation (+1 the day it was authored, -1 the day the next one was), evaluations (+1 the
//   day authored); events and transports count per ISO week (day = Monday). Days are Paris
//   days, as the full computation (storage/indicators.ts) has them.
// pilotage_part — what each source contributes to pilotage_count: a resource ('R:Type/id') or,
//   for what depends on all of a usager's séjours or evaluations, the usager ('P:id'). A write
//   takes the parts of what it touched out of the counts and puts the new ones in.
//
// Every figure is computed by the same SQL as the full computation of storage/indicators.ts
// (which the tests compare it with), restricted to the resources written.

export const version = '0161-derived-tables';

export const SYS_LOCAL = 'https://identifiant-medicosocial-localusager.esante.gouv.fr';
export const SYS_SEJOUR = 'https://identifiant-medicosocial-sejour.esante.gouv.fr';
export const SYS_EVENEMENT = 'https://identifiant-medicosocial-evenement.esante.gouv.fr';
export const SYS_TR_PRO = 'https://identifiant-medicosocial-transportprofessionnel.esante.gouv.fr';
export const SYS_TR_USAGER = 'https://identifiant-medicosocial-transportusager.esante.gouv.fr';
export const AGGIR = ['aggir-pa-ssiad', 'aggir-ph-ssiad'].map((g) => `'https://interop.esante.gouv.fr/ig/fhir/tddui/Questionnaire/tddui-questionnaire-${g}'`).join(', ');
const TZ = 'Europe/Paris';
export const day = (col: string) => `(${col} AT TIME ZONE '${TZ}')::date`;
export const finessOf = (col: string) => `coalesce(substring(${col} from '^3([^/]+)/'), '')`;

/** Lower case without the accents of French names (as usager-list.ts did per request). */
export function normalized(expr: string): string {
  const from = 'éèêëàâäîïôöùûüçÿñÉÈÊËÀÂÄÎÏÔÖÙÛÜÇŸÑ';
  const to = 'eeeeaaaiioouuucyneeeeaaaiioouuucyn';
  return `replace(translate(lower(${expr}), '${from}', '${to}'), 'œ', 'oe')`;
}

/** Séjours in progress at some time (status not finished / cancelled / entered-in-error), non-empty. */
export const stays = (from: string, where: string) => `
  SELECT o.id, ${finessOf('o.code')} AS finess, s.target_id AS patient, x.lo, x.hi
    FROM ${from}
    LEFT JOIN search_date d ON d.resource_type = 'Encounter' AND d.id = o.id AND d.param = 'date'
    CROSS JOIN LATERAL (SELECT CASE WHEN d.id IS NULL THEN '-infinity'::date ELSE ${day('d.low')} END AS lo,
                               CASE WHEN d.id IS NOT NULL AND isfinite(d.high) THEN ${day('d.high')} + 1 END AS hi) x
   WHERE o.resource_type = 'Encounter' AND o.param = 'identifier' AND o.system = '${SYS_SEJOUR}' AND ${where}
     AND (x.hi IS NULL OR x.hi > x.lo)
     AND NOT EXISTS (SELECT 1 FROM search_token st WHERE st.resource_type = 'Encounter' AND st.id = o.id
                        AND st.param = 'status' AND st.code IN ('finished', 'cancelled', 'entered-in-error'))`;

const REFRESH = `CREATE OR REPLACE FUNCTION derived_refresh(p_types text[], p_ids text[]) RETURNS void
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  v_srcs text[];
  v_pats text[];
  v_psrcs text[];
BEGIN
  -- 1. The usagers list's sort keys.
  IF 'Patient' = ANY(p_types) THEN
    DELETE FROM usager_sort u USING unnest(p_types, p_ids) AS k(t, i) WHERE k.t = 'Patient' AND u.id = k.i;
    INSERT INTO usager_sort (id, name_key, finess, local_id, birth_date, gender, last_updated, owner)
    SELECT x.id,
           ${normalized(`concat_ws(' ', coalesce(x.u->>'family', x.b->>'family'), coalesce(x.u->'given'->>0, x.b->'given'->>0))`)},
           CASE WHEN x.lid LIKE '3%/%' THEN substr(split_part(x.lid, '/', 1), 2) END, x.lid, x.birth, x.gender, x.last_updated, x.owner
      FROM (SELECT r.id, r.last_updated, r.owner, r.content->>'birthDate' AS birth, r.content->>'gender' AS gender,
                   jsonb_path_query_first(r.content, '$.identifier[*] ? (@.system == "${SYS_LOCAL}").value') #>> '{}' AS lid,
                   jsonb_path_query_first(r.content->'name', '$[*] ? (@.use == "usual")') AS u,
                   coalesce(jsonb_path_query_first(r.content->'name', '$[*] ? (@.use == "official")'), r.content->'name'->0) AS b
              FROM resource r JOIN (SELECT DISTINCT t, i FROM unnest(p_types, p_ids) AS k(t, i) WHERE t = 'Patient') k
                ON r.resource_type = k.t AND r.id = k.i
             WHERE NOT r.deleted) x;
  END IF;

  -- 2. Pilotage: the sources touched, and the usagers whose séjours or evaluations they are
  --    (before: the parts recorded; after: the index just written).
  v_srcs := ARRAY(SELECT DISTINCT 'R:' || t || '/' || i FROM unnest(p_types, p_ids) AS k(t, i)
                   WHERE t IN ('Patient', 'Encounter', 'Task', 'QuestionnaireResponse'));
  IF cardinality(v_srcs) = 0 THEN RETURN; END IF;
  v_pats := ARRAY(SELECT DISTINCT y.x FROM (
      SELECT p.patient AS x FROM pilotage_part p WHERE p.src = ANY(v_srcs) AND p.patient IS NOT NULL
      UNION ALL
      SELECT s.target_id FROM search_reference s JOIN unnest(p_types, p_ids) AS k(t, i) ON s.resource_type = k.t AND s.id = k.i
       WHERE k.t IN ('Encounter', 'QuestionnaireResponse') AND s.param = 'subject' AND s.target_id IS NOT NULL) y ORDER BY 1);
  v_psrcs := ARRAY(SELECT 'P:' || x FROM unnest(v_pats) AS u(x));
  -- Two writes about one usager recompute its parts one after the other (sorted: no deadlock);
  -- the statement below starts after the wait, and sees what the other one committed.
  -- Not in the backfill below (tddui.backfill set): it would take one lock per stored usager in
  -- one transaction and exhaust the lock table; the migration holds the database alone.
  IF coalesce(current_setting('tddui.backfill', true), '') <> 'on' THEN
    PERFORM count(pg_advisory_xact_lock(hashtextextended('pilotage-usager:' || z.x, 0)))
       FROM (SELECT x FROM unnest(v_pats) AS u(x) ORDER BY 1) z;
  END IF;

  WITH k AS (SELECT DISTINCT t, i FROM unnest(p_types, p_ids) AS u(t, i)),
  old AS (DELETE FROM pilotage_part p WHERE p.src = ANY(v_srcs) OR p.src = ANY(v_psrcs)
          RETURNING p.kind, p.finess, p.key, p.day, -p.n AS n),
  stay_r AS (${stays(`search_token o JOIN k ON o.resource_type = k.t AND o.id = k.i LEFT JOIN search_reference s ON s.resource_type = 'Encounter' AND s.id = o.id AND s.param = 'subject'`, 'true')}),
  stay_p AS (${stays(`search_reference s JOIN search_token o ON o.resource_type = 'Encounter' AND o.id = s.id`, `s.target_id = ANY(v_pats) AND s.resource_type = 'Encounter' AND s.param = 'subject'`)}),
  sp AS (SELECT patient, finess, lo, coalesce(hi, 'infinity'::date) AS hi FROM stay_p),
  sp2 AS (SELECT sp.*, max(hi) OVER (PARTITION BY patient, finess ORDER BY lo, hi ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev FROM sp),
  sp3 AS (SELECT sp2.*, count(*) FILTER (WHERE prev IS NULL OR lo > prev) OVER (PARTITION BY patient, finess ORDER BY lo, hi ROWS UNBOUNDED PRECEDING) AS island FROM sp2),
  isl AS (SELECT patient, finess, min(lo) AS lo, max(hi) AS hi FROM sp3 GROUP BY patient, finess, island),
  qr AS (
    SELECT s.id, s.target_id AS patient, ${finessOf('t.code')} AS finess, a.low AS authored
      FROM search_reference s
      JOIN search_reference q ON q.resource_type = 'QuestionnaireResponse' AND q.id = s.id AND q.param = 'questionnaire'
       AND (q.url IN (${AGGIR}) OR split_part(q.url, '|', 1) IN (${AGGIR}))
      LEFT JOIN search_token t ON t.resource_type = 'QuestionnaireResponse' AND t.id = s.id AND t.param = 'identifier'
      LEFT JOIN search_date a ON a.resource_type = 'QuestionnaireResponse' AND a.id = s.id AND a.param = 'authored'
     WHERE s.target_id = ANY(v_pats) AND s.resource_type = 'QuestionnaireResponse' AND s.param = 'subject'
       AND NOT EXISTS (SELECT 1 FROM search_token st WHERE st.resource_type = 'QuestionnaireResponse' AND st.id = s.id
                          AND st.param = 'status' AND st.code = 'entered-in-error')),
  chain AS (SELECT qr.*, lead(coalesce(authored, '-infinity'::timestamptz)) OVER (PARTITION BY patient ORDER BY authored ASC NULLS FIRST, id DESC) AS next FROM qr),
  fresh AS (
    SELECT 'R:Patient/' || t.id AS src, 'usagers'::text AS kind, ${finessOf('t.code')} AS finess, 0::smallint AS key,
           '-infinity'::date AS day, 1 AS n, NULL::text AS patient
      FROM search_token t JOIN k ON t.resource_type = k.t AND t.id = k.i
     WHERE k.t = 'Patient' AND t.param = 'identifier' AND t.system = '${SYS_LOCAL}'
    UNION ALL
    SELECT 'R:Encounter/' || st.id, 'stays', st.finess, 0::smallint, b.day, b.n, st.patient
      FROM stay_r st CROSS JOIN LATERAL (VALUES (st.lo, 1), (st.hi, -1)) AS b(day, n) WHERE b.day IS NOT NULL
    UNION ALL
    SELECT 'R:Encounter/' || o.id, 'evt', ${finessOf('o.code')}, 0::smallint, date_trunc('week', ${day('d.low')})::date, 1, NULL
      FROM search_token o JOIN k ON o.resource_type = k.t AND o.id = k.i
      JOIN search_date d ON d.resource_type = 'Encounter' AND d.id = o.id AND d.param = 'date'
     WHERE k.t = 'Encounter' AND o.param = 'identifier' AND o.system = '${SYS_EVENEMENT}' AND isfinite(d.low)
    UNION ALL
    SELECT 'R:Task/' || o.id, CASE WHEN o.system = '${SYS_TR_PRO}' THEN 'pro' ELSE 'usager' END, ${finessOf('o.code')}, 0::smallint,
           date_trunc('week', ${day('d.low')})::date, 1, NULL
      FROM search_token o JOIN k ON o.resource_type = k.t AND o.id = k.i
      JOIN search_date d ON d.resource_type = 'Task' AND d.id = o.id AND d.param = 'period'
     WHERE k.t = 'Task' AND o.param = 'identifier' AND o.system IN ('${SYS_TR_USAGER}', '${SYS_TR_PRO}') AND isfinite(d.low)
    UNION ALL
    SELECT 'R:QuestionnaireResponse/' || t.id, 'eval', ${finessOf('t.code')}, 0::smallint,
           coalesce(${day('a.low')}, '-infinity'::date), 1, NULL
      FROM search_token t JOIN k ON t.resource_type = k.t AND t.id = k.i
      LEFT JOIN search_date a ON a.resource_type = 'QuestionnaireResponse' AND a.id = t.id AND a.param = 'authored'
     WHERE k.t = 'QuestionnaireResponse' AND t.param = 'identifier'
    UNION ALL
    SELECT 'R:' || s.resource_type || '/' || s.id, 'link', '', 0::smallint, '-infinity'::date, 0, s.target_id
      FROM search_reference s JOIN k ON s.resource_type = k.t AND s.id = k.i
     WHERE k.t IN ('Encounter', 'QuestionnaireResponse') AND s.param = 'subject' AND s.target_id IS NOT NULL
    UNION ALL
    SELECT 'P:' || i.patient, 'active', i.finess, 0::smallint, b.day, b.n, i.patient
      FROM isl i CROSS JOIN LATERAL (VALUES (i.lo, 1), (CASE WHEN isfinite(i.hi) THEN i.hi END, -1)) AS b(day, n) WHERE b.day IS NOT NULL
    UNION ALL
    SELECT 'P:' || c.patient, 'gir', c.finess,
           (CASE jsonb_path_query_first(r.content, '$.item[*] ? (@.linkId == "resultat-eval").answer[0].valueCoding.code') #>> '{}'
              WHEN 'MED-339' THEN 1 WHEN 'MED-340' THEN 2 WHEN 'MED-341' THEN 3 WHEN 'MED-342' THEN 4 WHEN 'MED-343' THEN 5
              WHEN 'MED-344' THEN 6 ELSE 0 END)::smallint,
           b.day, b.n, c.patient
      FROM chain c JOIN resource r ON r.resource_type = 'QuestionnaireResponse' AND r.id = c.id
      CROSS JOIN LATERAL (VALUES (coalesce(${day('c.authored')}, '-infinity'::date), 1), (${day('c.next')}, -1)) AS b(day, n)
     WHERE b.day IS NOT NULL
  ),
  ins AS (INSERT INTO pilotage_part (src, kind, finess, key, day, n, patient) SELECT * FROM fresh)
  INSERT INTO pilotage_count AS c (kind, finess, key, day, n)
  SELECT d.kind, d.finess, d.key, d.day, sum(d.n)
    FROM (SELECT kind, finess, key, day, n FROM old UNION ALL SELECT kind, finess, key, day, n FROM fresh) d
   WHERE d.kind <> 'link'
   GROUP BY 1, 2, 3, 4 HAVING sum(d.n) <> 0
   ORDER BY 1, 2, 3, 4
  ON CONFLICT (kind, finess, key, day) DO UPDATE SET n = c.n + EXCLUDED.n;
END
$fn$`;

export const statements: string[] = [
  `CREATE TABLE usager_sort (
    id text PRIMARY KEY,
    name_key text COLLATE "C",
    finess text COLLATE "C",
    local_id text COLLATE "C",
    birth_date text COLLATE "C",
    gender text COLLATE "C",
    last_updated timestamptz NOT NULL,
    owner text NOT NULL
  )`,
  `CREATE INDEX usager_sort_name_idx ON usager_sort (name_key, id)`,
  `CREATE INDEX usager_sort_finess_idx ON usager_sort (finess, name_key, id)`,
  `CREATE INDEX usager_sort_local_idx ON usager_sort (local_id, id)`,
  `CREATE INDEX usager_sort_birth_idx ON usager_sort (birth_date, id)`,
  `CREATE INDEX usager_sort_gender_idx ON usager_sort (gender, id)`,
  `CREATE INDEX usager_sort_updated_idx ON usager_sort (last_updated, id)`,
  `CREATE TABLE pilotage_part (
    src text NOT NULL,
    kind text NOT NULL,
    finess text NOT NULL,
    key smallint NOT NULL,
    day date NOT NULL,
    n integer NOT NULL,
    patient text
  )`,
  `CREATE INDEX pilotage_part_src_idx ON pilotage_part (src)`,
  `CREATE TABLE pilotage_count (
    kind text NOT NULL,
    finess text NOT NULL,
    key smallint NOT NULL,
    day date NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (kind, finess, key, day)
  )`,
  REFRESH,
  // Backfill from what is stored, without the per-usager locks (see above; an upgrade of a
  // database holding 20,000 usagers failed with "out of shared memory": migration-backfill.test),
  // by chunks of 1,000 resources: the refresh matches its usagers with `= ANY(array)`, linear in
  // the array, so one call over every stored resource was quadratic (minutes at 20,000 usagers).
  // A usager whose resources fall in several chunks is recomputed whole each time (as two writes
  // at run time), so the result does not depend on the cut.
  `SELECT set_config('tddui.backfill', 'on', true)`,
  `DO $backfill$
   DECLARE c record;
   BEGIN
     FOR c IN SELECT array_agg(resource_type) AS t, array_agg(id) AS i
                FROM (SELECT resource_type, id, (row_number() OVER (ORDER BY resource_type, id) - 1) / 1000 AS chunk
                        FROM resource WHERE NOT deleted AND resource_type IN ('Patient', 'Encounter', 'Task', 'QuestionnaireResponse')) x
               GROUP BY chunk ORDER BY chunk
     LOOP
       PERFORM derived_refresh(c.t, c.i);
     END LOOP;
   END
   $backfill$`,
  `SELECT set_config('tddui.backfill', 'off', true)`,
];

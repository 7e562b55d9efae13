// When each projet personnalisé was validated, kept by the write (issue 19, D-254): the yearly
// reviews due (coordination/ppa-reviews.ts — *Revues à prévoir*, Pilotage's overdue count, the
// `pp-review-due` events) become an index range instead of reading every active CarePlan, its
// Consents and its usager on each view.
//
// ppa_validation — one row per validated CarePlan (D-123, src/tddui/ppa-accord.ts: an active
//   CarePlan whose supportingInfo names an active Consent whose performer is the usager
//   (Patient) or a relative (RelatedPerson)): the latest accord's dateTime as sent
//   (`validated_on`, the greatest string, as the page shows it), its day (`validated_day`,
//   D-255), the usager (`patient`: the subject's `Type/id`; `patient_id` when a Patient) and
//   the ESSMS (`finess`, from the usager's local identifier `3<FINESS>/…`).
// ppa_accord_link — the Consents each stored CarePlan names in supportingInfo (whatever its
//   status), so that a write of a Consent finds the plans it may validate or invalidate.
//
// `ppa_refresh(types, ids)` recomputes, for the CarePlans, Consents and Patients written, the
// plans they concern: run by `derived_refresh` (renamed from 0161's, which becomes
// `pilotage_refresh`) in the writing transaction, after the statement that wrote the versions.
// Two writes about one usager (a Consent and the CarePlan naming it, in two concurrent
// Bundles) recompute one after the other under an advisory lock on the usager (sorted, taken
// before the plans are read): the second one's statements see what the first committed.
// The reference the tests compare it with is the full recomputation in TypeScript
// (`recomputeDueReviews`), from the same definitions (tddui/ppa-accord.ts).

export const version = '0180-ppa-validation';

const SYS_LOCAL = 'https://identifiant-medicosocial-localusager.esante.gouv.fr';

/** A JSON value as an array: itself, or a one-element array (referenceKeys' reading). */
export const asArray = (expr: string) => `CASE jsonb_typeof(${expr}) WHEN 'array' THEN ${expr} ELSE jsonb_build_array(${expr}) END`;
/** The `reference` of a JSON object when it is a string. */
export const refOf = (expr: string) => `CASE WHEN jsonb_typeof(${expr}->'reference') = 'string' THEN ${expr}->>'reference' END`;

const REFRESH = `CREATE FUNCTION ppa_refresh(p_types text[], p_ids text[], p_lock boolean DEFAULT true) RETURNS void
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  v_pats text[];
  v_plans text[];
BEGIN
  IF NOT (p_types && ARRAY['CarePlan', 'Consent', 'Patient']) THEN RETURN; END IF;
  -- 1. The usagers concerned: lock them (sorted) before reading the plans.
  IF p_lock THEN
    v_pats := ARRAY(SELECT DISTINCT y.x FROM (
        SELECT k.i AS x FROM unnest(p_types, p_ids) AS k(t, i) WHERE k.t = 'Patient'
        UNION ALL
        SELECT l.patient_id FROM ppa_accord_link l JOIN unnest(p_types, p_ids) AS k(t, i)
            ON (k.t = 'CarePlan' AND l.careplan = k.i) OR (k.t = 'Consent' AND l.consent = k.i)
        UNION ALL
        SELECT substr(ppa_ref_key(${refOf(`CASE r.resource_type WHEN 'CarePlan' THEN r.content->'subject' ELSE r.content->'patient' END`)}), 9)
          FROM resource r JOIN unnest(p_types, p_ids) AS k(t, i) ON r.resource_type = k.t AND r.id = k.i
         WHERE k.t IN ('CarePlan', 'Consent')
           AND ppa_ref_key(${refOf(`CASE r.resource_type WHEN 'CarePlan' THEN r.content->'subject' ELSE r.content->'patient' END`)}) LIKE 'Patient/%') y
      WHERE y.x IS NOT NULL ORDER BY 1);
    PERFORM count(pg_advisory_xact_lock(hashtextextended('ppa-usager:' || z.x, 0)))
       FROM (SELECT x FROM unnest(v_pats) AS u(x) ORDER BY 1) z;
  END IF;

  -- 2. The Consents the CarePlans written name.
  DELETE FROM ppa_accord_link l USING unnest(p_types, p_ids) AS k(t, i) WHERE k.t = 'CarePlan' AND l.careplan = k.i;
  INSERT INTO ppa_accord_link (consent, careplan, patient_id)
  SELECT DISTINCT substr(c.key, 9), r.id, CASE WHEN s.key LIKE 'Patient/%' THEN substr(s.key, 9) END
    FROM resource r JOIN (SELECT DISTINCT i FROM unnest(p_types, p_ids) AS k(t, i) WHERE t = 'CarePlan') k
      ON r.resource_type = 'CarePlan' AND r.id = k.i
   CROSS JOIN LATERAL (SELECT ppa_ref_key(${refOf(`r.content->'subject'`)}) AS key) s
   CROSS JOIN LATERAL jsonb_array_elements(${asArray(`r.content->'supportingInfo'`)}) AS e(v)
   CROSS JOIN LATERAL (SELECT ppa_ref_key(${refOf('e.v')}) AS key) c
   WHERE NOT r.deleted AND c.key LIKE 'Consent/%';

  -- 3. The plans to recompute: written, naming a Consent written, or of a Patient written.
  v_plans := ARRAY(SELECT DISTINCT y.x FROM (
      SELECT k.i AS x FROM unnest(p_types, p_ids) AS k(t, i) WHERE k.t = 'CarePlan'
      UNION ALL
      SELECT l.careplan FROM ppa_accord_link l JOIN unnest(p_types, p_ids) AS k(t, i) ON k.t = 'Consent' AND l.consent = k.i
      UNION ALL
      SELECT v.careplan FROM ppa_validation v JOIN unnest(p_types, p_ids) AS k(t, i) ON k.t = 'Patient' AND v.patient_id = k.i) y);
  DELETE FROM ppa_validation v WHERE v.careplan = ANY(v_plans);
  INSERT INTO ppa_validation (careplan, patient, patient_id, finess, validated_on, validated_day)
  SELECT x.id, coalesce(x.skey, ''), x.pid, nullif(CASE WHEN x.prefix ~ '^3[0-9]{9}$' THEN substr(x.prefix, 2) ELSE x.prefix END, ''),
         x.validated_on, ppa_validation_day(x.validated_on)
    FROM (SELECT r.id, s.key AS skey, CASE WHEN s.key LIKE 'Patient/%' THEN substr(s.key, 9) END AS pid, a.validated_on,
                 (SELECT CASE WHEN jsonb_typeof(li.v->'value') = 'string' AND li.v->>'value' LIKE '%/%' THEN split_part(li.v->>'value', '/', 1) END
                    FROM resource p
                   CROSS JOIN LATERAL (SELECT e FROM jsonb_array_elements(CASE jsonb_typeof(p.content->'identifier') WHEN 'array' THEN p.content->'identifier' ELSE '[]'::jsonb END) WITH ORDINALITY AS q(e, n)
                                        WHERE jsonb_typeof(q.e) = 'object' AND q.e->>'system' = '${SYS_LOCAL}' AND jsonb_typeof(q.e->'system') = 'string'
                                        ORDER BY q.n LIMIT 1) AS li(v)
                   WHERE s.key LIKE 'Patient/%' AND p.resource_type = 'Patient' AND p.id = substr(s.key, 9) AND NOT p.deleted) AS prefix
            FROM resource r
           CROSS JOIN LATERAL (SELECT ppa_ref_key(${refOf(`r.content->'subject'`)}) AS key) s
           CROSS JOIN LATERAL (
             SELECT max(c.content->>'dateTime' COLLATE "C") AS validated_on
               FROM ppa_accord_link l JOIN resource c ON c.resource_type = 'Consent' AND c.id = l.consent
              WHERE l.careplan = r.id AND NOT c.deleted AND c.content->>'status' = 'active' AND jsonb_typeof(c.content->'status') = 'string'
                AND jsonb_typeof(c.content->'dateTime') = 'string' AND c.content->>'dateTime' <> ''
                AND EXISTS (SELECT 1 FROM jsonb_array_elements(${asArray(`c.content->'performer'`)}) AS pf(v)
                             WHERE ppa_ref_key(${refOf('pf.v')}) LIKE 'Patient/%' OR ppa_ref_key(${refOf('pf.v')}) LIKE 'RelatedPerson/%')) a
           WHERE r.resource_type = 'CarePlan' AND r.id = ANY(v_plans) AND NOT r.deleted
             AND r.content->>'status' = 'active' AND jsonb_typeof(r.content->'status') = 'string'
             AND a.validated_on IS NOT NULL) x;
END
$fn$`;

export const statements: string[] = [
  // tddui/ppa-accord.ts referenceKey: `Type/id` of a reference (query and `/_history/n` cut,
  // absolute URLs reduced), NULL when it has no such ending.
  `CREATE FUNCTION ppa_ref_key(r text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN m[1] ~ '^[A-Z][A-Za-z]+$' AND m[2] <> '' THEN m[1] || '/' || m[2] END
      FROM (SELECT regexp_match(regexp_replace(split_part(r, '?', 1), '/_history(/.*)?$', ''), '(?:^|/)([^/]*)/([^/]*)$') AS m) x
  $$`,
  // coordination/ppa-reviews.ts validationDay (D-255): the day of a dateTime as written
  // (YYYY, YYYY-MM: the first day), NULL when it is not a calendar day.
  `CREATE FUNCTION ppa_validation_day(v text) RETURNS date LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN y >= 1 AND m BETWEEN 1 AND 12
                 AND d BETWEEN 1 AND extract(day FROM make_date(y, m, 1) + interval '1 month' - interval '1 day')
                THEN make_date(y, m, d) END
      FROM (SELECT x[1]::int AS y, coalesce(x[2]::int, 1) AS m, coalesce(x[3]::int, 1) AS d
              FROM (SELECT regexp_match(v, '^([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?(?:$|T)') AS x) z) w
     WHERE y IS NOT NULL
  $$`,
  `CREATE TABLE ppa_validation (
    careplan text PRIMARY KEY,
    patient text NOT NULL,
    patient_id text,
    finess text COLLATE "C",
    validated_on text COLLATE "C" NOT NULL,
    validated_day date
  )`,
  `CREATE INDEX ppa_validation_day_idx ON ppa_validation (validated_day, finess)`,
  `CREATE INDEX ppa_validation_patient_idx ON ppa_validation (patient_id)`,
  `CREATE TABLE ppa_accord_link (
    consent text NOT NULL,
    careplan text NOT NULL,
    patient_id text,
    PRIMARY KEY (consent, careplan)
  )`,
  `CREATE INDEX ppa_accord_link_careplan_idx ON ppa_accord_link (careplan)`,
  REFRESH,
  `ALTER FUNCTION derived_refresh(text[], text[]) RENAME TO pilotage_refresh`,
  `CREATE FUNCTION derived_refresh(p_types text[], p_ids text[]) RETURNS void LANGUAGE plpgsql VOLATILE AS $fn$
  BEGIN
    PERFORM pilotage_refresh(p_types, p_ids);
    PERFORM ppa_refresh(p_types, p_ids);
  END
  $fn$`,
  // Backfill from what is stored (no usager locks: the migration holds the database alone).
  `SELECT ppa_refresh(coalesce(array_agg(resource_type), '{}'), coalesce(array_agg(id), '{}'), false)
     FROM resource WHERE NOT deleted AND resource_type = 'CarePlan'`,
];

// The derived refresh's PostgreSQL CPU per write (issue 19, D-353): the same statements' work in
// fewer statements, the Pilotage statement without the sections a write has nothing for, and that
// statement's plan no longer thrown away each time the small, hot `pilotage_count` is vacuumed or
// analysed.
//
// Measured before (session 33, bench/README "Session 33, hR"): warm, in one connection, a
// PP-PA Bundle's refresh costs ~0.6-0.7 ms of backend CPU, a third of it in `ExecutorStart`
// (every statement's plan tree and expressions set up before it runs) — most of it for 0161's
// Pilotage statement (~150 plan nodes: séjours, events, transports, islands, evaluations, all set
// up though a PP-PA Bundle has no Encounter and no transport Task). In the server, on a growing
// database, much more went to planning: the generic plans (D-305) are made again in every
// connection after each VACUUM or ANALYZE of a table they name, and the statistics keeper
// (autovacuum off) or autovacuum passes over `pilotage_count`, which every write updates, every
// few hundred Bundles: 1,500 Bundles, 4 in flight, planned the Pilotage statement 49 times at
// ~11 ms, 682 ms of planning in all for the refresh's statements (0.57 ms per Bundle).
//
// `pilotage_refresh` (0183's text, with checked replacements):
//   - the usagers list's sort keys deleted and inserted by one statement instead of two: the
//     DELETE in a CTE that the INSERT reads first (its count gates the INSERT), so the rows are
//     gone before the new ones go in — a row deleted by the transaction itself does not conflict
//     in the primary key; the trigger of 0198 sees the same DELETE and INSERT;
//   - the sources, the usagers and their sources in one statement instead of three;
//   - the new parts of séjours, events and transports written (0161's `stay_r` and the 'stays',
//     'evt', 'pro'/'usager' branches, unchanged) computed by a statement of their own, only when the
//     write has an Encounter or a Task, into arrays that the Pilotage statement unnests in their
//     place (after the usagers' locks, as before: they read only the write's own resources);
//   - the counts' differences taken out of the Pilotage statement as arrays and added by a small
//     upsert of their own (below): the same rows, the same sorted order of row locks.
// `ppa_refresh` (0180's text, with checked replacements): 3 statements instead of 7 — the
//   usagers found and locked by one statement; the CarePlans' Consent links (only when a CarePlan
//   is written: with none the DELETE and the INSERT did nothing) deleted and inserted by one; the
//   plans to recompute, their validations deleted and inserted by one, the same way.
// Both keep `plan_cache_mode = force_generic_plan` (D-305: a CREATE OR REPLACE replaces the SET).
// After: the same 1,500 Bundles plan the Pilotage statement 38 times at ~4.4 ms, 235 ms of
// planning in all (0.20 ms per Bundle); the warm cost per call is unchanged (paired 0.99-1.04:
// statements merged cost what the two did).

import { stays } from './0161-derived-tables.js';
import { statements as s0180 } from './0180-ppa-validation.js';
import { statements as s0183 } from './0183-pilotage-slots.js';
import { replaceOnce } from './sql-text.js';

export const version = '0200-refresh-sections';

const edit = (text: string, from: string, to: string) => replaceOnce(text, from, to, version);

/** `text` cut at `from` (included) up to `to` (excluded), each found once: [before, the cut, after]. */
function cut(text: string, from: string, to: string): [string, string, string] {
  const a = text.indexOf(from);
  const b = text.indexOf(to, a);
  if (a < 0 || text.indexOf(from, a + 1) >= 0 || b < 0) throw new Error(`migration ${version}: expected one ${JSON.stringify(from.slice(0, 60))} before ${JSON.stringify(to.slice(0, 60))}`);
  return [text.slice(0, a), text.slice(a, b), text.slice(b)];
}

// ---- pilotage_refresh ----
let pilotage = s0183.find((s) => s.startsWith('CREATE OR REPLACE FUNCTION pilotage_refresh('));
if (!pilotage) throw new Error(`migration ${version}: 0183's pilotage_refresh not found`);

pilotage = edit(pilotage, '  v_slot smallint := 0;\nBEGIN', `  v_slot smallint := 0;
  -- The new parts of the séjours, events and transports written (section 2b).
  e_src text[];
  e_kind text[];
  e_finess text[];
  e_key smallint[];
  e_day date[];
  e_n integer[];
  e_patient text[];
BEGIN`);

// 2. Sources, usagers, usagers' sources: one statement (CTEs kept whole, not inlined twice).
pilotage = edit(pilotage, `  v_srcs := ARRAY(SELECT DISTINCT 'R:' || t || '/' || i FROM unnest(p_types, p_ids) AS k(t, i)
                   WHERE t IN ('Patient', 'Encounter', 'Task', 'QuestionnaireResponse'));
  IF cardinality(v_srcs) = 0 THEN RETURN; END IF;
  v_pats := ARRAY(SELECT DISTINCT y.x FROM (
      SELECT p.patient AS x FROM pilotage_part p WHERE p.src = ANY(v_srcs) AND p.patient IS NOT NULL`,
`  IF NOT (p_types && ARRAY['Patient', 'Encounter', 'Task', 'QuestionnaireResponse']) THEN RETURN; END IF;
  WITH s AS MATERIALIZED (SELECT ARRAY(SELECT DISTINCT 'R:' || t || '/' || i FROM unnest(p_types, p_ids) AS k(t, i)
                                        WHERE t IN ('Patient', 'Encounter', 'Task', 'QuestionnaireResponse')) AS a),
  u AS MATERIALIZED (SELECT ARRAY(SELECT DISTINCT y.x FROM (
      SELECT p.patient AS x FROM pilotage_part p WHERE p.src = ANY((SELECT a FROM s)::text[]) AND p.patient IS NOT NULL`);
pilotage = edit(pilotage, `       WHERE k.t IN ('Encounter', 'QuestionnaireResponse') AND s.param = 'subject' AND s.target_id IS NOT NULL) y ORDER BY 1);
  v_psrcs := ARRAY(SELECT 'P:' || x FROM unnest(v_pats) AS u(x));`,
`       WHERE k.t IN ('Encounter', 'QuestionnaireResponse') AND s.param = 'subject' AND s.target_id IS NOT NULL) y ORDER BY 1) AS a)
  SELECT s.a, u.a, ARRAY(SELECT 'P:' || x FROM unnest(u.a) AS x) INTO v_srcs, v_pats, v_psrcs FROM s, u;`);

// 2b. The séjours, events and transports written: 0161's CTE and branches, moved as they are.
const STAY_R = `  stay_r AS (${stays(`search_token o JOIN k ON o.resource_type = k.t AND o.id = k.i LEFT JOIN search_reference s ON s.resource_type = 'Encounter' AND s.id = o.id AND s.param = 'subject'`, 'true')}),\n`;
pilotage = edit(pilotage, STAY_R, '');
const [head, branches, tail] = cut(pilotage, `    UNION ALL
    SELECT 'R:Encounter/' || st.id, 'stays'`, `    UNION ALL
    SELECT 'R:QuestionnaireResponse/' || t.id, 'eval'`);
pilotage = `${head}    UNION ALL
    SELECT * FROM unnest(e_src, e_kind, e_finess, e_key, e_day, e_n, e_patient)
${tail}`;
pilotage = edit(pilotage, `  WITH k AS (SELECT DISTINCT t, i FROM unnest(p_types, p_ids) AS u(t, i)),
  old AS (`, `  IF p_types && ARRAY['Encounter', 'Task'] THEN
    WITH k AS (SELECT DISTINCT t, i FROM unnest(p_types, p_ids) AS u(t, i)),
  ${STAY_R.trim()}
    e (src, kind, finess, key, day, n, patient) AS (
${branches.replace(/^ {4}UNION ALL\n/, '')}    )
    SELECT array_agg(src), array_agg(kind), array_agg(finess), array_agg(key), array_agg(day), array_agg(n), array_agg(patient)
      INTO e_src, e_kind, e_finess, e_key, e_day, e_n, e_patient FROM e;
  END IF;

  WITH k AS (SELECT DISTINCT t, i FROM unnest(p_types, p_ids) AS u(t, i)),
  old AS (`);

// ---- ppa_refresh ----
let ppa = s0180.find((s) => s.startsWith('CREATE FUNCTION ppa_refresh('));
if (!ppa) throw new Error(`migration ${version}: 0180's ppa_refresh not found`);
ppa = edit(ppa, 'CREATE FUNCTION ppa_refresh(p_types text[], p_ids text[], p_lock boolean DEFAULT true) RETURNS void\nLANGUAGE plpgsql VOLATILE AS',
  'CREATE OR REPLACE FUNCTION ppa_refresh(p_types text[], p_ids text[], p_lock boolean DEFAULT true) RETURNS void\nLANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan AS');
// The links: only when a CarePlan is written (with none, their DELETE and INSERT did nothing).
ppa = edit(ppa, `  DELETE FROM ppa_accord_link l USING unnest(p_types, p_ids) AS k(t, i) WHERE k.t = 'CarePlan' AND l.careplan = k.i;`,
  `  IF 'CarePlan' = ANY(p_types) THEN
  DELETE FROM ppa_accord_link l USING unnest(p_types, p_ids) AS k(t, i) WHERE k.t = 'CarePlan' AND l.careplan = k.i;`);
ppa = edit(ppa, `   WHERE NOT r.deleted AND c.key LIKE 'Consent/%';`, `   WHERE NOT r.deleted AND c.key LIKE 'Consent/%';
  END IF;`);

export const statements: string[] = [pilotage, ppa];

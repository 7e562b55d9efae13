// The derived refresh's PostgreSQL CPU per write (issue 19, D-353): the Pilotage statement without
// the sections a write has nothing for, and fewer statements around it.
//
// Measured before (session 33, bench/README "Session 33, hR"): warm, a PP-PA Bundle's refresh costs
// ~0.6-0.7 ms of backend CPU, a third of it in `ExecutorStart` — every statement's plan tree and
// expressions set up before it runs — much of it for 0161's Pilotage statement (77 plan nodes for a
// PP-PA write, a third of them for séjours, events and transports the Bundle has not). In the
// server, on a growing database, the generic plans (D-305) are also made again in every pooled
// connection after each VACUUM or ANALYZE of a table they name: that statement 43-50 times per
// 1,200 Bundles at 5.4-6.9 ms.
//
// `pilotage_refresh` (0183's text, with checked replacements):
//   - the new parts of séjours, events and transports written (0161's `stay_r` and its 'stays',
//     'evt', 'pro'/'usager' branches, unchanged) computed by a statement of their own, only when the
//     write has an Encounter or a Task, into arrays that the Pilotage statement unnests in their
//     place — after the usagers' locks, as before, and reading only the write's own resources, which
//     its row locks keep as they are; the Pilotage statement keeps everything else (one snapshot,
//     the one sorted upsert of the counts): 77 -> 57 plan nodes, planning 6.9 -> 3.4 ms;
//   - the sources, the usagers and their sources in one statement instead of three.
// `ppa_refresh` (0180's text): the CarePlans' Consent links deleted and inserted only when the write
//   has a CarePlan (with none, both did nothing).
// Both keep `plan_cache_mode = force_generic_plan` (D-305: a CREATE OR REPLACE replaces the SET).
// Tried and left out (measured no better): one statement per section; a DELETE and its INSERT in one
// statement; the counts' upsert in a statement of its own.

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
  -- The new parts of the séjours, events and transports written (when the write has any).
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
  old AS (`, `  -- The séjours, events and transports written, only when there are (a PP-PA Bundle has none):
  -- their new parts, unnested by the statement below in place of 0161's three branches.
  IF p_types && ARRAY['Encounter', 'Task'] THEN
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

// The cost of the Pilotage refresh per write (issue 19, D-305, D-306). Two changes to
// `pilotage_refresh` (0161's `derived_refresh`, renamed by 0180) and one to `ppa_refresh` (0180):
//
// 1. Plans kept (D-305): both functions run with `plan_cache_mode = force_generic_plan`. A
//    PL/pgSQL statement is planned with its variables' values ("custom" plans) for its first five
//    executions in a connection, then with a generic plan if that is estimated no dearer; the
//    refresh's statements over `unnest(p_types, p_ids)` and `= ANY(v_...)` arrays never passed
//    that test, so the large Pilotage statement (séjours, islands, evaluations: ~20 joins) was
//    planned again on EVERY call — measured with pg_stat_statements.track_planning (session 29,
//    200 PP-PA Bundles): 221 plans for 220 calls, 10.4 ms of planning per call against 1.65 ms of
//    execution; with the generic plan 1.37 ms of execution, planned once per connection. The
//    generic plan probes the same indexes (the arrays hold the few resources of a write). Plans
//    are still rebuilt when the tables' statistics change (ANALYZE invalidates them).
//
// 2. Counts in slots (D-306): `pilotage_count` gains a `slot` column in its primary key. Every
//    Bundle of one facility adds to the same rows — (usagers, FINESS, 0, -infinity), its GIR and
//    evaluation days — and an upsert holds its row locks until COMMIT: two Bundles of one facility
//    queued there, the second waiting for the first's whole remaining write, response and COMMIT.
//    A write now adds its differences to the slot it holds: the first of 16 whose advisory lock
//    (`pilotage-slot:n`, transaction-scoped, tried without waiting) is free, so concurrent writes
//    add to different rows and none waits; if all 16 are taken, `pg_backend_pid() % 16` without a
//    lock (row locks then order them, as before). Readers already sum `n` over a figure's rows
//    (storage/indicators.ts `pilotageFigures`, usager-list.ts): a figure is the sum over slots.
//    Rows grow with the writes' concurrency (a few slots in use), not with the data. The backfill
//    mode (`tddui.backfill`, migrations and the tests' recomputation) takes no lock and writes slot 0.
//
// The function's text is 0161's (so its figures are those the tests compare with the full
// computation), with exact replacements checked when this module loads; the DELETE of the old parts
// also probes the index with one array instead of an OR of two.

import { statements as s0161 } from './0161-derived-tables.js';
import { claimSlotSql } from './pilotage-slot.js';

export const version = '0183-pilotage-slots';

/** `text` with `from` replaced by `to`, exactly once (a migration must not silently change nothing). */
function replaceOnce(text: string, from: string, to: string): string {
  const at = text.indexOf(from);
  if (at < 0 || text.indexOf(from, at + 1) >= 0) throw new Error(`migration 0183: expected exactly one ${JSON.stringify(from.slice(0, 60))}`);
  return text.slice(0, at) + to + text.slice(at + from.length);
}


const base = s0161.find((s) => s.startsWith('CREATE OR REPLACE FUNCTION derived_refresh('));
if (!base) throw new Error('migration 0183: 0161 refresh function not found');
let refresh = replaceOnce(base, 'CREATE OR REPLACE FUNCTION derived_refresh(p_types text[], p_ids text[]) RETURNS void\nLANGUAGE plpgsql VOLATILE AS',
  'CREATE OR REPLACE FUNCTION pilotage_refresh(p_types text[], p_ids text[]) RETURNS void\nLANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan AS');
refresh = replaceOnce(refresh, '  v_psrcs text[];\nBEGIN', '  v_psrcs text[];\n  v_slot smallint := 0;\nBEGIN');
refresh = replaceOnce(refresh, `  IF coalesce(current_setting('tddui.backfill', true), '') <> 'on' THEN
    PERFORM count(pg_advisory_xact_lock(hashtextextended('pilotage-usager:' || z.x, 0)))
       FROM (SELECT x FROM unnest(v_pats) AS u(x) ORDER BY 1) z;
  END IF;`, `  IF coalesce(current_setting('tddui.backfill', true), '') <> 'on' THEN
    PERFORM count(pg_advisory_xact_lock(hashtextextended('pilotage-usager:' || z.x, 0)))
       FROM (SELECT x FROM unnest(v_pats) AS u(x) ORDER BY 1) z;
    -- The counts' slot (migration 0183): the first free one, kept to COMMIT (a second call in the
    -- same transaction finds its own lock free again: the same slot).
${claimSlotSql('    ')}
  END IF;`);
refresh = replaceOnce(refresh, 'old AS (DELETE FROM pilotage_part p WHERE p.src = ANY(v_srcs) OR p.src = ANY(v_psrcs)',
  'old AS (DELETE FROM pilotage_part p WHERE p.src = ANY(v_srcs || v_psrcs)');
refresh = replaceOnce(refresh, `  INSERT INTO pilotage_count AS c (kind, finess, key, day, n)
  SELECT d.kind, d.finess, d.key, d.day, sum(d.n)`, `  INSERT INTO pilotage_count AS c (kind, finess, key, day, slot, n)
  SELECT d.kind, d.finess, d.key, d.day, v_slot, sum(d.n)`);
refresh = replaceOnce(refresh, 'ON CONFLICT (kind, finess, key, day) DO UPDATE', 'ON CONFLICT (kind, finess, key, day, slot) DO UPDATE');

export const statements: string[] = [
  `ALTER TABLE pilotage_count ADD COLUMN slot smallint NOT NULL DEFAULT 0`,
  `ALTER TABLE pilotage_count DROP CONSTRAINT pilotage_count_pkey`,
  `ALTER TABLE pilotage_count ADD PRIMARY KEY (kind, finess, key, day, slot)`,
  refresh,
  // A later CREATE OR REPLACE of either function must repeat the SET clause (it replaces it).
  `ALTER FUNCTION ppa_refresh(text[], text[], boolean) SET plan_cache_mode = force_generic_plan`,
];

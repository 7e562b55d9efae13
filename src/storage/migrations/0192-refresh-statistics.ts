// A large write's derived refresh planned from statistics that include the write (issue 19, D-329).
//
// `derived_refresh` (0180) runs in the writing transaction over every version a write touched.
// Its statements join the written keys (`unnest(p_types, p_ids)`) to the index tables; planned
// from statistics that describe the tables as they were — a fresh database's few rows, or the
// 30 rows of the Bundle before — the planner believed those tables held about one matching row
// and chose nested loops that scan every stored row of a type for every written key (`Join
// Filter: t.id = k.i`, `Rows Removed by Join Filter: 23,064,000` for 8,000 versions): time
// growing with the square of the write. A 40 MB TDDUI Bundle (13,070 versions) on a fresh
// database: `pilotage_refresh` 26-31 s on PostgreSQL, a 77.6 s block of the embedded server.
// D-305's generic plan keeps such a plan for the connection, but custom plans fared no better
// (30.6 s): the column statistics, not the plan cache, were wrong.
//
// Only the transaction sees its own rows, so only it can describe them: before refreshing a
// large write (500 keys or more), the tables the refresh reads that THIS transaction has at
// least doubled (rows inserted by it, `pg_stat_get_xact_tuples_inserted`, of at least
// max(1,000, `reltuples` at their last ANALYZE)) are analysed in it — ANALYZE samples the
// current transaction's own uncommitted rows, and invalidates the cached plans over those
// tables, so the refresh's statements are planned again, driven by the written keys through the
// `(resource_type, id)` indexes: linear in the write. SKIP_LOCKED: a table another transaction is
// analysing (a concurrent large write holds that lock until its commit) is left as it is rather
// than waited for. An ordinary write (a PP-PA Bundle refreshes ~10 keys) does not even look.
// The statistics keeper (storage/statistics.ts) still analyses in the background; this is the
// one case it cannot serve — the rows are not committed yet.

export const version = '0192-refresh-statistics';

/** Keys refreshed from which a write is large enough to look at the tables' statistics. */
export const LARGE_REFRESH = 500;

/** The tables the refresh functions read and a write grows (their statistics matter to its plans). */
const READ_TABLES = ['resource', 'search_token', 'search_reference', 'search_date'];

export const statements: string[] = [
  `CREATE OR REPLACE FUNCTION derived_refresh(p_types text[], p_ids text[]) RETURNS void LANGUAGE plpgsql VOLATILE AS $fn$
  DECLARE
    v_table regclass;
  BEGIN
    IF cardinality(p_ids) >= ${LARGE_REFRESH} THEN
      FOR v_table IN SELECT c.oid::regclass FROM pg_class c
                      WHERE c.oid = ANY (ARRAY[${READ_TABLES.map((t) => `'${t}'`).join(', ')}]::regclass[])
                        AND pg_stat_get_xact_tuples_inserted(c.oid) >= greatest(1000, c.reltuples)
                      ORDER BY c.relname LOOP
        EXECUTE format('ANALYZE (SKIP_LOCKED) %s', v_table);
      END LOOP;
    END IF;
    PERFORM pilotage_refresh(p_types, p_ids);
    PERFORM ppa_refresh(p_types, p_ids);
  END
  $fn$`,
];

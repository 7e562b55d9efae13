// A large write's derived refresh in statements of bounded size (issue 19 / 21, D-351).
//
// The refresh of a write of more than 500 versions (writer.ts `refreshInChunks`) is now called
// once per 500 keys, after every version is written, instead of once over all of them in the
// write's last statement: on the embedded database a statement runs on the server's event loop.
// `derived_refresh` (0192) ANALYZEs, before refreshing 500 keys or more, the tables the
// transaction has at least doubled; in a fresh database those tables' rows are mostly the
// transaction's own even after that ANALYZE, so every call of 500 keys would analyse them again.
// `p_analyze` (default true: the one-call behaviour of 0192 for every other caller, and for a
// server of the previous version during an upgrade): the writer passes true to the first call
// only — all the rows are written by then, the statistics it takes describe them.

import { LARGE_REFRESH, READ_TABLES } from './0192-refresh-statistics.js';

export const version = '0199-refresh-chunks';

export const statements: string[] = [
  `DROP FUNCTION derived_refresh(text[], text[])`,
  `CREATE FUNCTION derived_refresh(p_types text[], p_ids text[], p_analyze boolean DEFAULT true) RETURNS void LANGUAGE plpgsql VOLATILE AS $fn$
  DECLARE
    v_table regclass;
  BEGIN
    IF p_analyze AND cardinality(p_ids) >= ${LARGE_REFRESH} THEN
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

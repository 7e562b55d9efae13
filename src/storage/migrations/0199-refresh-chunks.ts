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

import { LARGE_REFRESH, statements as s0192 } from './0192-refresh-statistics.js';
import { replaceOnce } from './sql-text.js';

export const version = '0199-refresh-chunks';

// 0192's function, restated with the new argument and the one condition that reads it.
let refresh = replaceOnce(s0192[0]!, 'CREATE OR REPLACE FUNCTION derived_refresh(p_types text[], p_ids text[]) RETURNS void',
  'CREATE FUNCTION derived_refresh(p_types text[], p_ids text[], p_analyze boolean DEFAULT true) RETURNS void', version);
refresh = replaceOnce(refresh, `IF cardinality(p_ids) >= ${LARGE_REFRESH} THEN`, `IF p_analyze AND cardinality(p_ids) >= ${LARGE_REFRESH} THEN`, version);

export const statements: string[] = [`DROP FUNCTION derived_refresh(text[], text[])`, refresh];

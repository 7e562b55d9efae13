// The derived tables refreshed after the write, in batches, instead of in it (issue 19, D-356).
//
// Every write of a version that can change a derived table (usager_sort, pilotage_part and its
// counts, ppa_accord_link, ppa_validation: 0161, 0180, 0183, 0198) called `derived_refresh` in its
// own statement: ~2.1 ms of PostgreSQL CPU per PP-PA Bundle, a third of the database's work
// (bench/README, session 34), most of it the setting up of the refresh's plans, paid again for
// every Bundle's dozen keys. A write now records the keys in `derived_pending` (one row of two
// arrays per writing statement; no index: the table holds the last fraction of a second of writes,
// which a drain reads whole) and a drain (storage/derived.ts) refreshes the keys of the pending
// rows together, in transactions that delete the rows they refresh: a snapshot sees the derived tables current exactly when it sees
// no pending row, which is what a reader of the derived tables checks first (on a replica too).
//
// Nothing to backfill: the refresh functions are unchanged and recompute from the stored state
// whatever they are handed; a server of the previous version during a rolling upgrade keeps
// refreshing in its writes, under the same advisory locks per usager as the drain.

export const version = '0203-derived-pending';

// `seq`: the drain's order and its bound — a drain takes the rows up to the highest `seq` it saw
// when it began, so that a reader waits for the writes committed before its request, never for
// the ones that keep arriving under load.
export const statements: string[] = [`CREATE TABLE derived_pending (seq bigint GENERATED ALWAYS AS IDENTITY, types text[] NOT NULL, ids text[] NOT NULL)`];

// Fewer index entries per written resource (issue 19, D-354).
//
// search_reference: a row is either a reference to a resource here (target_type/target_id set,
// url NULL) or a URL / canonical (url set, target_id NULL). A B-tree indexes NULL keys too, so
// each of the two lookup indexes held an entry for every row, about half of them a NULL nobody
// looks up: a PP-PA Bundle's 71 rows made 142 entries in them, ~71 of NULLs. Both become partial.
// Every reader compares the indexed column with `=`, `= ANY`, `LIKE` or a join equality — all
// strict, so the planner proves the predicate and keeps the index (EXPLAIN in
// fewer-index-entries.test.ts); the `(resource_type, id)` index, which `:missing`, includes and
// the refreshes use, stays whole.
//
// resource_updated_idx (last_updated alone): its readers — the system-wide `_history` (with or
// without `_since`) and the UI's data stamp — now read each stored type's range of
// resource_type_updated_idx (`STORED_TYPES` in rows.ts); every other reader of the column names
// its type. One entry less per version written.

export const version = '0201-fewer-index-entries';

export const statements: string[] = [
  `DROP INDEX search_reference_target_idx`,
  `CREATE INDEX search_reference_target_idx ON search_reference (target_id, target_type, param) WHERE target_id IS NOT NULL`,
  `DROP INDEX search_reference_url_idx`,
  `CREATE INDEX search_reference_url_idx ON search_reference (url) WHERE url IS NOT NULL`,
  `DROP INDEX resource_updated_idx`,
];

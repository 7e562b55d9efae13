// UCUM quantities in search (issue 12): beside each quantity row, its value in the base units of
// its kind (`5400 ug` → 0.0054 `g`), so that `value-quantity=5.4|http://unitsofmeasure.org|mg`
// finds it: the query is converted the same way and compared on these columns. NULL for numbers
// and for quantities that are not UCUM. Filled by the index extraction (fingerprint `index-v3`:
// a server re-indexes existing rows at start-up, `tddui reindex` offline).
export const version = '0151-search-quantity-canonical';

export const statements: string[] = [
  `ALTER TABLE search_number ADD COLUMN canonical_low numeric, ADD COLUMN canonical_high numeric, ADD COLUMN canonical_code text`,
  `CREATE INDEX search_number_canonical_idx ON search_number (resource_type, param, canonical_code, canonical_low)`,
];

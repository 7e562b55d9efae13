// Number and quantity search parameters (issue 12): one index table for both. A value is the
// closed range [low, high] it stands for (a Range: its bounds; a value: itself, exact numeric);
// a quantity's system and code (else its unit). Rows are written by the index extraction of
// src/fhir/search/parameters.ts; the index fingerprint changes with these parameters, so a
// server re-indexes at start-up (`tddui reindex` offline).
export const version = '0062-search-number';

export const statements: string[] = [
  `CREATE TABLE search_number (
    resource_type text NOT NULL,
    id text NOT NULL,
    param text NOT NULL,
    low numeric NOT NULL,
    high numeric NOT NULL,
    system text,
    code text
  )`,
  `CREATE INDEX search_number_low_idx ON search_number (resource_type, param, low)`,
  `CREATE INDEX search_number_high_idx ON search_number (resource_type, param, high)`,
  `CREATE INDEX search_number_res_idx ON search_number (resource_type, id)`,
];

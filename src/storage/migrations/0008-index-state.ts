// Which set of search parameters wrote the index rows: the fingerprint of the SearchParameterSet
// (base R4 + the loaded IGs' SearchParameters, src/fhir/search/parameters.ts). When a server
// starts with another set (a package added, removed or updated), the rows of the current
// resources are rebuilt (`tddui reindex`, or at start-up) and the new fingerprint recorded.

export const version = '0008-index-state';

export const statements: string[] = [
  `CREATE TABLE index_state (
    name text PRIMARY KEY,
    fingerprint text NOT NULL,
    parameters jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
  )`,
];

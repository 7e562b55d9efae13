// Composite search parameters (issue 12): one row per tuple of component values (an Observation's
// code with its valueQuantity, each of its components' code with its value…). `components` is a
// JSON array holding, per component, the columns the row of its type has in the flat tables
// (`system`/`code`, `low`/`high`…), read back with `jsonb_to_record` so that search applies the
// same conditions as to a plain parameter of that type. The first component is most often a
// token: its code is indexed to find the tuples of one code without reading the others.
// Written by the index extraction (src/fhir/search/parameters.ts); the index fingerprint changes
// with composites (`index-v3`), so a server re-indexes existing rows at start-up
// (`tddui reindex` offline).
export const version = '0150-search-composite';

export const statements: string[] = [
  `CREATE TABLE search_composite (
    resource_type text NOT NULL,
    id text NOT NULL,
    param text NOT NULL,
    components jsonb NOT NULL
  )`,
  `CREATE INDEX search_composite_first_code_idx ON search_composite (resource_type, param, (components->0->>'code'))`,
  `CREATE INDEX search_composite_res_idx ON search_composite (resource_type, id)`,
];

// Pages that stay fast as the data grow (issue 19, D-210).
// - The submissions of a usager (usager page): `submission.usagers` holds `[{id, localId, …}]`,
//   searched with `@>`; without an index that scanned the whole submission log on every view.
//   A GIN index (jsonb_path_ops: only `@>`, the smallest GIN form) makes it a bitmap probe.
// - The projet personnalisé's Tasks (usager page) are found by the prefix of their business
//   identifier (`<local id>-…`, business rule R4). `search_token_code_idx` cannot serve a LIKE
//   prefix under a non-C collation (the PostgreSQL here runs C.UTF-8, which the planner does not
//   treat as C), so a partial pattern index covers the Task identifiers only: it costs the
//   writes of Tasks, nothing else.
export const version = '0160-page-indexes';

export const statements: string[] = [
  `CREATE INDEX submission_usagers_idx ON submission USING gin (usagers jsonb_path_ops)`,
  `CREATE INDEX search_token_task_identifier_idx ON search_token (code text_pattern_ops)
     WHERE resource_type = 'Task' AND param = 'identifier'`,
];

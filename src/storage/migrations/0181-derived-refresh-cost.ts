// The cost of keeping the derived tables on write (issue 19, D-290): `ppa_ref_key`, called for
// every reference of every CarePlan and Consent written (subject, supportingInfo, patient,
// performer), becomes ONE expression the planner inlines into the calling statement. As 0180
// wrote it (a SELECT over `regexp_match`) it was a SQL function that cannot be inlined: each
// call ran through the SQL-function executor, whose plan is rebuilt per calling statement
// execution — ~0.1 ms of PostgreSQL CPU per call, 10+ calls per PP-PA Bundle.
//
// Same result: the `Type/id` ending of a reference, query and `/_history/n` cut, absolute URLs
// reduced; NULL when the second-to-last segment is not a type name (an upper-case letter then
// letters) or the last one is empty. The regular expression reads the last two segments of the
// cut text as 0180's did (its `[^/]*` segments anchored at the end), with the type test and the
// non-empty id folded in; `substring(... from ...)` returns the parenthesised part.

export const version = '0181-derived-refresh-cost';

export const statements: string[] = [
  `CREATE OR REPLACE FUNCTION ppa_ref_key(r text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT substring(regexp_replace(split_part(r, '?', 1), '/_history(/.*)?$', '') from '(?:^|/)([A-Z][A-Za-z]+/[^/]+)$')
  $$`,
];

// The submission log keeps the Bundle, report and response as `json` (the text as written, key
// order included), as docs/storage.md always said, not `jsonb`: nothing queries inside them,
// and a `json` value is only checked on the way in, not converted to the binary form, which is
// the larger part of the cost of logging a 25-entry Bundle.

export const version = '0006-submission-json';

export const statements: string[] = [
  `ALTER TABLE submission
     ALTER COLUMN bundle TYPE json USING bundle::json,
     ALTER COLUMN report TYPE json USING report::json,
     ALTER COLUMN response TYPE json USING response::json`,
];

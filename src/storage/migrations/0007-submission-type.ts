// The resource type of what was submitted, as a column: the FHIR view of the log
// (`GET /fhir/Bundle`) lists submitted Bundles only, with a total and plain offsets, without
// reading every logged body (the bodies are `json` text, migration 0006).

export const version = '0007-submission-type';

export const statements: string[] = [
  `ALTER TABLE submission ADD COLUMN submitted_type text`,
  `UPDATE submission SET submitted_type = bundle->>'resourceType' WHERE bundle IS NOT NULL AND json_typeof(bundle) = 'object'`,
  `CREATE INDEX submission_type_idx ON submission (submitted_type, received_at DESC, seq DESC)`,
];

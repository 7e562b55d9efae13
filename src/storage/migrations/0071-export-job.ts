// FHIR Bulk Data export jobs (issue 18): one row per $export request, with its checkpoint —
// the type being written, the last id written and the byte size of each NDJSON file — so a
// server restarted in the middle truncates the file to the checkpoint and goes on from there
// (every resource exactly once). The files themselves live in the export folder.

export const version = '0071-export-job';

export const statements: string[] = [
  `CREATE TABLE export_job (
    id text PRIMARY KEY,
    -- accepted | running | completed | failed | deleted
    status text NOT NULL,
    created timestamptz NOT NULL,
    updated timestamptz NOT NULL,
    -- the transactionTime of the manifest: resources changed after it are not exported
    transaction_time timestamptz NOT NULL,
    request text NOT NULL,
    -- level, types, since, typeFilters, patients (Group), subject of the token
    params jsonb NOT NULL,
    -- typeIndex, lastId, files: { type: { count, bytes } }
    progress jsonb NOT NULL,
    error text,
    expires timestamptz
  )`,
  `CREATE INDEX export_job_status ON export_job (status)`,
];

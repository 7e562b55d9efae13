// Rejected submissions are kept for diagnosis, within a quota and a retention period (issue 21,
// D-85): the size of each kept document, why a document was dropped, and an index of the
// rejected submissions that still hold one (the sweep reads only those, oldest first).
export const version = '0061-rejected-retention';

export const statements: string[] = [
  `ALTER TABLE submission ADD COLUMN bundle_bytes integer`,
  `ALTER TABLE submission ADD COLUMN bundle_dropped text`,
  `CREATE INDEX submission_rejected_kept ON submission (received_at, id) WHERE outcome = 'rejected' AND bundle IS NOT NULL`,
];

// Submissions received in the same millisecond need a stable "newest first" order:
// a sequence number breaks ties on received_at.

export const version = '0002-submission-order';

export const statements: string[] = [
  `ALTER TABLE submission ADD COLUMN seq bigserial`,
  `DROP INDEX submission_received_idx`,
  `CREATE INDEX submission_received_idx ON submission (received_at DESC, seq DESC)`,
];

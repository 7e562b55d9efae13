// The submission log records who sent each submission (issue 21): the token's subject and
// client id, as one text (`sub (client id)`); null on an open server and before this migration.
export const version = '0060-submission-client';

export const statements: string[] = [`ALTER TABLE submission ADD COLUMN client text`];

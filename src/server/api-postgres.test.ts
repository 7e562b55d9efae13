// HTTP tests on PostgreSQL at 127.0.0.1:5432 (a fresh database created and dropped by this file).
// Skipped with a message when PostgreSQL is absent, except under CI=true where that fails.
import { serverSuite } from './suite.js';
import { postgresSkipReason } from './test-support.js';

serverSuite('postgres', await postgresSkipReason());

// More HTTP tests of the server core on PostgreSQL at 127.0.0.1:5432 (a fresh database created
// and dropped by the suite). Skipped with a message when PostgreSQL is absent, except under CI=true.
import { coreExtraSuite } from './core-extra-suite.js';
import { postgresSkipReason } from './test-support.js';

coreExtraSuite('postgres', await postgresSkipReason());

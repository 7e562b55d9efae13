// The FHIR server core's HTTP tests on PostgreSQL at 127.0.0.1:5432 (a fresh database created
// and dropped by the suite). Skipped with a message when PostgreSQL is absent, except under CI=true.
import { coreSuite } from './core-suite.js';
import { postgresSkipReason } from './test-support.js';

coreSuite('postgres', await postgresSkipReason());

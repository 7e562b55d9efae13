// Event notifications over HTTP on PostgreSQL (skipped with the reason when it is absent, except under CI=true).
import { postgresSkipReason } from '../server/test-support.js';
import { notificationSuite } from './notifications-suite.js';

notificationSuite('postgres', await postgresSkipReason());

// The GAP Gestionnaire d'agendas over HTTP on PostgreSQL (a fresh database per run).
import { gapSuite } from './gap-suite.js';
import { postgresSkipReason } from './test-support.js';

gapSuite('postgres', await postgresSkipReason());

// The GAP Gestionnaire d'agendas over HTTP on the embedded database (PGlite, in memory).
import { gapSuite } from './gap-suite.js';

gapSuite('embedded');

// More HTTP tests of the server core on the embedded database (PGlite, in memory).
import { coreExtraSuite } from './core-extra-suite.js';

coreExtraSuite('embedded');

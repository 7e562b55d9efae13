// The FHIR server core's HTTP tests on the embedded database (PGlite, in memory).
import { coreSuite } from './core-suite.js';

coreSuite('embedded');

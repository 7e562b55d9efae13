// HTTP tests on the embedded database (PGlite, in memory).
import { serverSuite } from './suite.js';

serverSuite('embedded');

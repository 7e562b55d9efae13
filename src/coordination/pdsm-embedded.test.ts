import { pdsmSuite } from './pdsm-suite.js';

await pdsmSuite('embedded');

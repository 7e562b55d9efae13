// Event notifications over HTTP on the embedded database (PGlite, in memory).
import { notificationSuite } from './notifications-suite.js';

notificationSuite('embedded');

// bench/http-server-child: one build's server in a process of its own, for bench/ingest-http-ab
// (its main thread's CPU is read from /proc, apart from the client's). argv: the build's checkout,
// the database URL. Started by `fork`; says its URL by IPC, closes on 'close'.
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SHARED_FHIR } from '../src/testing/paths.js';

const [dir, database, workers] = process.argv.slice(2);
const { startServer } = (await import(pathToFileURL(join(resolve(dir!), 'dist/src/server/app.js')).href)) as typeof import('../src/server/app.js');
const srv = await startServer({
  port: 0,
  host: '127.0.0.1',
  packages: [SHARED_FHIR],
  logLevel: 'warn',
  limits: { readRate: 0, writeRate: 0 },
  validationWorkers: Number(workers ?? Math.min(8, availableParallelism())),
  database: database!,
});
await srv.validationPool?.whenReady();
process.send!({ url: srv.url });
process.on('message', (m) => {
  if (m === 'close') void srv.close().then(() => process.exit(0));
});

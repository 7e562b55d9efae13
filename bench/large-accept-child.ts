// bench/large-accept-child: one build's server in a process of its own, for bench/large-accept,
// with an event-loop block logger on its main thread. argv: the build's checkout, the database
// (a postgres:// URL, or a folder for the embedded database on disk), the validation workers.
// Started by `fork`; says its URL by IPC; 'mark' starts a measure, 'report' answers the longest
// event-loop delay since the mark (monitorEventLoopDelay, 1 ms resolution) and every block of
// 50 ms or more (a 5 ms timer's lateness: when, how long); 'close' closes it.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SHARED_FHIR } from '../src/testing/paths.js';

const [dir, database, workers] = process.argv.slice(2);
const { startServer } = (await import(pathToFileURL(join(resolve(dir!), 'dist/src/server/app.js')).href)) as typeof import('../src/server/app.js');
const srv = await startServer({
  port: 0,
  host: '127.0.0.1',
  packages: [SHARED_FHIR],
  logLevel: 'error',
  limits: { readRate: 0, writeRate: 0 },
  validationWorkers: Number(workers ?? 1),
  ...(database!.startsWith('postgres') ? { database: database! } : { dataDir: database! }),
});
await srv.validationPool?.whenReady();

const histogram = monitorEventLoopDelay({ resolution: 1 });
let mark = performance.now();
let last = mark;
let blocks: { at: number; ms: number; end: number }[] = [];
setInterval(() => {
  const now = performance.now();
  // `end`: the monotonic clock in µs (process.hrtime), the clock of a --cpu-prof profile's timestamps.
  if (now - last >= 55) blocks.push({ at: last - mark, ms: now - last - 5, end: Number(process.hrtime.bigint() / 1000n) });
  last = now;
}, 5);
process.send!({ url: srv.url });
process.on('message', (m) => {
  if (m === 'mark') {
    histogram.reset();
    histogram.enable();
    mark = performance.now();
    blocks = [];
  } else if (m === 'report') {
    histogram.disable();
    process.send!({ longest: histogram.max / 1e6, blocks });
  } else if (m === 'close') void srv.close().then(() => process.exit(0));
});

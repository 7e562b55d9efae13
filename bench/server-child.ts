// bench/server-child: one build's server in a process of its own, for the benchmarks that measure
// a server apart from its client (bench/ingest-http-ab: its main thread's CPU read from /proc;
// bench/large-accept: its event-loop blocks). Started by `fork`; says its URL by IPC; 'close'
// closes it.
//
//   fork('server-child.js', [checkout, database, ...options])
//
// `checkout`: the build whose server runs (its own dist/). `database`: a postgres:// URL, or a
// folder for the embedded database on disk (`tddui serve --data DIR`). Options:
// `--workers=N` validation workers (default as `tddui serve`: one per core, at most 8);
// `--log-level=L` (default warn); `--block-logger`: an event-loop block logger on the main thread
// — 'mark' starts a measure, 'report' answers the longest event-loop delay since the mark
// (monitorEventLoopDelay, 1 ms resolution) and every block of 50 ms or more (a 5 ms timer's
// lateness: when, how long). Off unless asked: its timer costs the main thread CPU that
// ingest-http-ab counts.
import { availableParallelism } from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SHARED_FHIR } from '../src/testing/paths.js';

const args = process.argv.slice(2);
const [dir, database] = args.filter((a) => !a.startsWith('--'));
const option = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const { startServer } = (await import(pathToFileURL(join(resolve(dir!), 'dist/src/server/app.js')).href)) as typeof import('../src/server/app.js');
const srv = await startServer({
  port: 0,
  host: '127.0.0.1',
  packages: [SHARED_FHIR],
  logLevel: option('log-level') ?? 'warn',
  limits: { readRate: 0, writeRate: 0 },
  validationWorkers: Number(option('workers') ?? Math.min(8, availableParallelism())),
  ...(database!.startsWith('postgres') ? { database: database! } : { dataDir: database! }),
});
await srv.validationPool?.whenReady();

if (args.includes('--block-logger')) logBlocks();
process.send!({ url: srv.url });
process.on('message', (m) => {
  if (m === 'close') void srv.close().then(() => process.exit(0));
});

/** The event-loop block logger: answers 'mark' and 'report' (see the head of this file). */
function logBlocks(): void {
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
  process.on('message', (m) => {
    if (m === 'mark') {
      histogram.reset();
      histogram.enable();
      mark = performance.now();
      blocks = [];
    } else if (m === 'report') {
      histogram.disable();
      process.send!({ longest: histogram.max / 1e6, blocks });
    }
  });
}

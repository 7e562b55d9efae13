// bench/alloc-sample: a preload (`node --import`) that records where the MAIN thread allocates —
// V8's sampling heap profiler with the objects later collected by the young and the old
// generation's collections kept (`node --heap-prof` keeps only what is still alive at the end,
// which says nothing of garbage). Written when the process exits, to
// `$TDDUI_ALLOC_DIR/alloc-<checkout>-<pid>.heapprofile` (default the temporary folder), for
// bench/alloc-report. With bench/ingest-http-ab, on one build's server or both:
//
//   node dist/bench/ingest-http-ab.js A B --n=600 --flags="0:--import=$PWD/dist/bench/alloc-sample.js;1:--import=$PWD/dist/bench/alloc-sample.js"
//   node dist/bench/alloc-report.js $TMPDIR/alloc-*-<pid>.heapprofile --bundles=660
//
// (The server child's first argument is its checkout: it names the file. Validation workers are
// not sampled.) `TDDUI_ALLOC_INTERVAL`: mean bytes between samples (default 8192).
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { isMainThread } from 'node:worker_threads';

if (isMainThread) {
  const session = new Session();
  session.connect();
  session.post('HeapProfiler.enable');
  session.post('HeapProfiler.startSampling', {
    samplingInterval: Number(process.env.TDDUI_ALLOC_INTERVAL ?? 8192),
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  } as object);
  const name = `alloc-${basename(process.argv[2] ?? 'process')}-${process.pid}.heapprofile`;
  // (The inspector answers synchronously on this thread: the profile is written before the exit.)
  process.on('exit', () =>
    session.post('HeapProfiler.stopSampling', (err, r) => {
      if (!err) writeFileSync(join(process.env.TDDUI_ALLOC_DIR ?? tmpdir(), name), JSON.stringify(r.profile));
    }),
  );
}

// The `/healthz` prober of issue 21's checks (validation-pool.test) and bench/large-accept: is a
// server's event loop free while it reads, validates and stores a large Bundle? One prober for
// both, so the test and the benchmark measure the same thing.
import { Worker } from 'node:worker_threads';

/**
 * The prober's source, run as a thread of its own (its event loop is not the caller's, which may
 * be sending 42 MiB and reading a 44 MiB answer): `/healthz` every 10 ms — 200 probes of the idle
 * server first (the anchor: what the machine's load alone costs), then until told to stop. A
 * probe over 100 ms is noted with when it started (seconds after the anchor), for the log.
 */
const PROBER = `
const { parentPort, workerData } = require('node:worker_threads');
const { performance } = require('node:perf_hooks');
const url = workerData;
let stop = false;
parentPort.on('message', () => (stop = true));
const probe = async () => { const t = performance.now(); const h = await fetch(url + '/healthz'); await h.arrayBuffer(); if (h.status !== 200) throw new Error('/healthz ' + h.status); return performance.now() - t; };
const pause = () => new Promise((r) => setTimeout(r, 10));
(async () => {
  const idle = [];
  for (let i = 0; i < 200; i++) { idle.push(await probe()); await pause(); }
  parentPort.postMessage({ idle });
  const busy = [];
  const t0 = performance.now();
  const slow = [];
  while (!stop) { const t = performance.now(); const ms = await probe(); busy.push(ms); if (ms > 100) slow.push(((t - t0) / 1000).toFixed(1) + 's:' + ms.toFixed(0) + 'ms'); await pause(); }
  parentPort.postMessage({ busy, slow });
})().catch((e) => parentPort.postMessage({ error: String(e) }));
`;

/** What the prober saw while the server was busy: every probe's time (ms), and the slow ones' "at s:ms". */
export interface BusyProbes {
  busy: number[];
  slow: string[];
}

/** A running prober: its idle anchor is measured; `stop()` ends the busy probes and returns them. */
export interface HealthzProber {
  /** The idle server's 200 probe times (ms): the anchor. */
  idle: number[];
  /** Stops probing, returns the busy probes and ends the thread. */
  stop(): Promise<BusyProbes>;
  /** Ends the thread whatever its state (for a `finally`); harmless after `stop()`. */
  terminate(): Promise<void>;
}

/** Starts probing `url`'s `/healthz` and resolves once the idle anchor is measured (~2-3 s). */
export async function startHealthzProber(url: string): Promise<HealthzProber> {
  const worker = new Worker(PROBER, { eval: true, workerData: url });
  const messages: Record<string, unknown>[] = [];
  let wake = () => {};
  let failed: Error | undefined;
  worker.on('message', (m: Record<string, unknown>) => {
    messages.push(m);
    wake();
  });
  worker.on('error', (e) => {
    failed = e;
    wake();
  });
  const next = async (): Promise<Record<string, unknown>> => {
    while (!messages.length) {
      if (failed) throw failed;
      await new Promise<void>((r) => (wake = r));
    }
    const m = messages.shift()!;
    if (m.error) throw new Error(`prober: ${m.error as string}`);
    return m;
  };
  const terminate = async () => {
    await worker.terminate();
  };
  try {
    const idle = (await next()).idle as number[];
    return {
      idle,
      async stop() {
        worker.postMessage('stop');
        try {
          return (await next()) as unknown as BusyProbes;
        } finally {
          await terminate();
        }
      },
      terminate,
    };
  } catch (e) {
    await terminate();
    throw e;
  }
}

/** The p-th percentile (nearest rank) of probe times. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

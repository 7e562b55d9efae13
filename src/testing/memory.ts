// Memory after a full garbage collection, for the probes that check the server's memory comes
// back to its baseline (issue 21). `gc` is Node's when run with --expose-gc; otherwise it is
// exposed at run time (V8's flag, then a fresh context's global), so `npm test` needs no flag.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gcFn: (() => void) | undefined = (globalThis as { gc?: () => void }).gc;

function collector(): () => void {
  if (!gcFn) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  return gcFn;
}

export interface MemoryFigures {
  /** V8 heap in use (bytes), after collection. */
  heapUsed: number;
  /** Resident set (bytes): reported only, the allocator keeps pages it freed. */
  rss: number;
}

/** Collects (several passes, with turns of the event loop between: finalizers and weak maps settle), then measures. */
export async function memoryAfterGc(): Promise<MemoryFigures> {
  const gc = collector();
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 50));
  }
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, rss: m.rss };
}

/** The allowed growth over a baseline: 10 % or 16 MiB, whichever is larger. */
export function heapBackToBaseline(baseline: number, after: number): boolean {
  return after <= baseline + Math.max(16 * 1024 * 1024, baseline * 0.1);
}

// Long preparations on the main thread (a 40 MB Bundle's contents, index rows and array
// literals, issue 21) let the event loop turn every SLICE_MS of work, so `/healthz` and the
// other requests are answered meanwhile. One helper for the writer and the PostgreSQL driver.
import { performance } from 'node:perf_hooks';
import { setImmediate as tick } from 'node:timers/promises';

/** Work between two turns of the event loop. */
export const SLICE_MS = 10;

/** `items.map(f)`, letting the event loop turn whenever SLICE_MS of work has run. */
export async function mapYielding<T, R>(items: readonly T[], f: (x: T) => R): Promise<R[]> {
  const out: R[] = [];
  let since = performance.now();
  for (const x of items) {
    out.push(f(x));
    if (performance.now() - since > SLICE_MS) {
      await tick();
      since = performance.now();
    }
  }
  return out;
}

// Turns of the event loop in a run of back-to-back embedded statements. A PGlite statement runs
// in this process and its promise is already settled when `query` returns, so a caller awaiting
// statement after statement never lets the event loop turn: a transaction of many statements
// held the server for its whole length — the 40 MB TDDUI Bundle's ~2,180 one-version statements
// (an object every copy of the Bundle repeats goes in a statement of its own), ~13 s at load 9,
// no `/healthz` answered (bench/large-accept, D-330). Statements that have run `sliceMs` since
// the loop last turned are followed by one `setImmediate`; a loop that turned on its own (a
// caller awaiting real I/O between statements) starts a new slice, so an ordinary request's few
// statements never wait for anything.
import { performance } from 'node:perf_hooks';

export interface EventLoopTurns {
  /** Runs one statement; after it, waits for a turn of the loop when the statements since its last turn ran `sliceMs`. */
  run<T>(statement: () => Promise<T>): Promise<T>;
}

export function eventLoopTurns(sliceMs = 20): EventLoopTurns {
  // A marker callback is pending from a statement's start until the loop's next turn runs it.
  let pending = false;
  let since = 0;
  const mark = () => {
    pending = false;
  };
  return {
    async run(statement) {
      if (!pending) {
        // The loop has turned since the last marker was set (or none was): a new slice.
        pending = true;
        since = performance.now();
        setImmediate(mark);
      }
      const out = await statement();
      // The slice is used up and the loop has not turned: wait for it (`mark` runs first).
      if (pending && performance.now() - since >= sliceMs) await new Promise<void>((resolve) => setImmediate(resolve));
      return out;
    },
  };
}

// The server's periodic jobs (D-325): stop() clears the timer, then waits for the run in flight;
// runs never overlap; a failure is an error while the server runs, a warning once it stops.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PeriodicJob } from './periodic.js';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function recorder() {
  const lines: { level: string; msg: string; obj: object }[] = [];
  return { lines, log: { error: (obj: object, msg: string) => lines.push({ level: 'error', msg, obj }), warn: (obj: object, msg: string) => lines.push({ level: 'warn', msg, obj }) } };
}

describe('PeriodicJob', () => {
  it('stop() waits for the run in flight, and no run starts after it', async () => {
    const { lines, log } = recorder();
    let runs = 0;
    let ended = 0;
    const job = new PeriodicJob({ name: 'test', intervalMs: 10, log, run: async () => {
      runs++;
      await pause(150);
      ended++;
    } });
    await job.start({ now: true });
    assert.equal(ended, 1, 'start({ now }) resolves after the first run');
    while (!job.busy) await pause(5);
    // The timer fires every 10 ms but runs never overlap: one in flight.
    await pause(40);
    assert.equal(runs, 2);
    await job.stop();
    assert.equal(ended, 2, 'the run in flight ended before stop() resolved');
    await pause(50);
    assert.equal(runs, 2, 'no run after stop()');
    assert.equal(await job.runOnce(), undefined);
    assert.equal(runs, 2);
    await job.stop(); // idempotent
    assert.deepEqual(lines, []);
  });

  it('a failed run is logged as an error while running, as a warning when it ends after stop()', async () => {
    const { lines, log } = recorder();
    let fail: (e: Error) => void = () => undefined;
    const job = new PeriodicJob({ name: 'test', failed: 'test: the sweep failed', intervalMs: 60_000, log, describeError: (e) => ({ code: (e as { code?: string }).code }), run: () => new Promise<void>((_resolve, reject) => (fail = reject)) });
    await job.start();
    const first = job.runOnce();
    fail(Object.assign(new Error('x'), { code: 'E1' }));
    await first;
    assert.deepEqual(lines, [{ level: 'error', msg: 'test: the sweep failed', obj: { err: { code: 'E1' } } }]);
    void job.runOnce();
    const stopping = job.stop();
    fail(Object.assign(new Error('y'), { code: 'E2' }));
    await stopping;
    assert.deepEqual(lines[1], { level: 'warn', msg: 'test: the run in progress at shutdown failed', obj: { err: { code: 'E2' } } });
    assert.equal(lines.length, 2);
  });
});

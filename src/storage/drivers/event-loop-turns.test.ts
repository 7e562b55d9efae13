// The embedded database lets the event loop turn during a long run of statements (D-330): a PGlite
// statement runs in this process and settles before `query` returns, so awaiting one statement
// after another never gave the loop a turn (~2,180 of them in the 40 MB Bundle's transaction:
// ~13 s without a `/healthz` answered). Counted in turns of the loop, not timed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openPglite } from './pglite.js';
import { eventLoopTurns } from './event-loop-turns.js';
import { turnsDuring } from '../../testing/event-loop.js';

test('a transaction of statements longer than a slice lets the event loop turn between them', async () => {
  const db = await openPglite({ dataDir: 'memory://' });
  try {
    // Each statement sleeps 30 ms: more than the 20 ms slice, so every one after the first ends its slice.
    const n = await turnsDuring(() => db.transaction(async (tx) => {
      for (let i = 0; i < 6; i++) await tx.query('SELECT pg_sleep(0.03)');
    }));
    assert.ok(n >= 4, `${n} turns of the event loop during 6 statements of 30 ms`);
    // Outside a transaction too.
    const m = await turnsDuring(async () => {
      for (let i = 0; i < 6; i++) await db.query('SELECT pg_sleep(0.03)');
    });
    assert.ok(m >= 4, `${m} turns during 6 single statements of 30 ms`);
  } finally {
    await db.close();
  }
});

test('short statements in a slice do not wait for the event loop; a used-up slice waits for one turn', async () => {
  const turns = eventLoopTurns(60_000);
  let waited = 0;
  // 1,000 statements in one slice: none waits (each would cost a turn of the loop).
  const n = await turnsDuring(async () => {
    for (let i = 0; i < 1000; i++) await turns.run(async () => waited++);
  });
  assert.equal(waited, 1000);
  assert.equal(n, 0, 'no turn of the loop inside a slice');
  // A slice of 0 ms: every statement is followed by a turn.
  const each = eventLoopTurns(0);
  const m = await turnsDuring(async () => {
    for (let i = 0; i < 5; i++) await each.run(async () => undefined);
  });
  assert.ok(m >= 5, `${m} turns for 5 statements with a used-up slice each`);
});

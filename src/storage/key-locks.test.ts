// Business-key locks (migration 0190, D-295): a write naming thousands of new objects must not
// exhaust the lock table (a valid 40 MB TDDUI Bundle of 14,000 objects answered 500, "out of
// shared memory"), and folding its keys into one lock must still exclude a concurrent write
// creating one of the same keys, both ways.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forEachDriver, createTestDatabase, postgresUnavailable } from './testing.js';
import { openDatabase } from './index.js';
import { lockAndLookupKeys, lookupKeysLockNew, type KeyOf } from './keys.js';
import type { Database, Queryable } from './types.js';

const OWNER = '480787529';
const SYS = 'https://identifiant-medicosocial-evenement.esante.gouv.fr';
const keys = (n: number, from = 0): KeyOf[] => Array.from({ length: n }, (_, i) => ({ system: SYS, value: `3${OWNER}/e${from + i}` }));
const items = (ks: KeyOf[]) => ks.map((k) => ({ resourceType: 'Encounter', keys: [k] }));

forEachDriver('business-key locks', (getRepo) => {
  test('20,000 new keys in one transaction: both lookups answer (folded into one lock), nothing found', async () => {
    const db = getRepo().db;
    const many = items(keys(20_000));
    const a = await db.transaction((tx) => lookupKeysLockNew(tx, OWNER, many));
    assert.equal(a.size, 0);
    const b = await db.transaction((tx) => lockAndLookupKeys(tx, OWNER, many, ['12345']));
    assert.equal(b.size, 0);
  });
});

/** Resolves once some backend waits for an advisory lock (not granted), else fails after 20 s. */
async function someoneWaits(db: Database): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const r = await db.query<{ n: string }>(`SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`);
    if (Number(r.rows[0]!.n) > 0) return;
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.fail('no transaction waited for an advisory lock');
}

async function insertKey(tx: Queryable, k: KeyOf, id: string): Promise<void> {
  await tx.query(
    `INSERT INTO resource (resource_type, id, version_id, last_updated, content) VALUES ('Encounter', $1, 1, now(), '{"resourceType":"Encounter"}'::jsonb)`,
    [id],
  );
  await tx.query(`INSERT INTO business_key (owner, resource_type, system, value, id) VALUES ($1, 'Encounter', $2, $3, $4)`, [OWNER, k.system, k.value, id]);
}

for (const [first, second] of [
  ['large (folded)', 'small'],
  ['small', 'large (folded)'],
] as const) {
  test(`PostgreSQL: a ${first} write creating a key excludes a ${second} one creating the same key until it commits`, async (t) => {
    const why = await postgresUnavailable();
    if (why) return t.skip(why);
    const { url, drop } = await createTestDatabase();
    const { openRepository } = await import('./index.js');
    const repo = await openRepository({ url }); // migrated
    await repo.close();
    const db = await openDatabase({ url });
    try {
      const shared = keys(1)[0]!;
      const size = (which: string) => (which === 'small' ? items([shared]) : items([shared, ...keys(1_500, 1)]));
      let release!: () => void;
      const hold = new Promise<void>((res) => (release = res));
      let firstLocked!: () => void;
      const locked = new Promise<void>((res) => (firstLocked = res));
      const one = db.transaction(async (tx) => {
        const found = await lookupKeysLockNew(tx, OWNER, size(first));
        assert.equal(found.size, 0);
        firstLocked();
        await hold;
        await insertKey(tx, shared, 'made-by-first');
      });
      await locked;
      const two = db.transaction((tx) => lookupKeysLockNew(tx, OWNER, size(second)));
      await someoneWaits(db);
      release();
      await one;
      const found = await two;
      // It waited, then looked again in a new snapshot: the object the first one made.
      assert.equal(found.get(`Encounter\u0000${shared.system}\u0000${shared.value}`)?.id, 'made-by-first');
    } finally {
      await db.close();
      await drop();
    }
  });
}

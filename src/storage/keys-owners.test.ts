// A plan that writes objects of two owners (a batch or transaction across organisations) keeps
// the business keys of both: until session 28 the keys of every owner but the first were passed
// to a statement with no versions, which wrote only its extra statements — the second owner's
// objects could not be matched when resent, and a resend made duplicates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forEachDriver } from './testing.js';

const SYS = 'https://identifiant-medicosocial-evenement.esante.gouv.fr';

await forEachDriver('business keys of several owners in one plan', (getRepo) => {
  test('both owners keep their keys; resending both matches both (no duplicate)', async () => {
    const repo = getRepo();
    const op = (owner: string, v: string) => ({
      method: 'create' as const,
      resourceType: 'Encounter',
      owner,
      keys: [{ system: SYS, value: `3${owner}/${v}` }],
      resource: { resourceType: 'Encounter', status: 'finished', identifier: [{ system: SYS, value: `3${owner}/${v}` }] },
    });
    const first = await repo.execute({ ops: [op('480787529', 'a'), op('293178687', 'b')] });
    assert.deepEqual(first.map((r) => r.outcome), ['created', 'created']);
    const keys = await repo.db.query<{ owner: string }>(`SELECT owner FROM business_key WHERE system = $1 ORDER BY owner`, [SYS]);
    assert.deepEqual(keys.rows.map((r) => r.owner), ['293178687', '480787529'], 'a key row for each owner');
    const again = await repo.execute({ ops: [op('480787529', 'a'), op('293178687', 'b')] });
    assert.deepEqual(again.map((r) => r.record?.id), first.map((r) => r.record?.id), 'the resend names the same objects');
    const n = await repo.db.query<{ n: string }>(`SELECT count(*) AS n FROM resource WHERE resource_type = 'Encounter'`);
    assert.equal(Number(n.rows[0]!.n), 2);
  });
});

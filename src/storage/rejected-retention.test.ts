// Rejected submissions keep their documents within a retention period and a total quota
// (issue 21, D-85): older than the period, then the oldest beyond the quota, lose their document
// (not their record, report or counts); accepted submissions are never touched.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SubmissionRecord } from './types.js';
import { forEachDriver } from './testing.js';

function record(outcome: 'accepted' | 'rejected', receivedAt: string, size: number): Omit<SubmissionRecord, 'id'> {
  return {
    receivedAt,
    usagers: [],
    resourceCount: 1,
    outcome,
    httpStatus: outcome === 'accepted' ? 200 : 422,
    errorCount: outcome === 'accepted' ? 0 : 1,
    warningCount: 0,
    bundle: { resourceType: 'Bundle', type: 'transaction', id: 'x'.repeat(size) },
    report: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid', diagnostics: 'bad' }] },
  };
}

await forEachDriver('rejected submissions: retention and quota', (getRepo) => {
  test('documents older than the retention period, then the oldest beyond the quota, are dropped; records stay', async () => {
    const repo = getRepo();
    const now = new Date('2026-12-06T12:00:00Z');
    const day = (n: number) => new Date(now.getTime() - n * 86_400_000).toISOString();
    const old = await repo.recordSubmission(record('rejected', day(40), 1000));
    const oldAccepted = await repo.recordSubmission(record('accepted', day(40), 1000));
    const r10 = await repo.recordSubmission(record('rejected', day(10), 100_000));
    const r5 = await repo.recordSubmission(record('rejected', day(5), 100_000));
    const r1 = await repo.recordSubmission(record('rejected', day(1), 100_000));
    const accepted = await repo.recordSubmission(record('accepted', day(1), 500_000));

    // 30 days, 250,000 bytes: the 40-day-old one by retention; of the three 100 kB ones the
    // newest two fit (about 200,050 bytes), the oldest goes by quota.
    const r = await repo.pruneRejectedSubmissions({ retentionDays: 30, maxTotalBytes: 250_000, now });
    assert.deepEqual(r, { retention: 1, quota: 1 });
    const get = async (id: string) => (await repo.getSubmission(id))!;
    assert.equal((await get(old.id)).bundle, undefined);
    assert.equal((await get(old.id)).bundleDropped, 'retention');
    assert.equal((await get(old.id)).errorCount, 1, 'the record stays');
    assert.ok((await get(old.id)).report, 'its report stays');
    assert.equal((await get(r10.id)).bundleDropped, 'quota');
    assert.equal((await get(r10.id)).bundle, undefined);
    for (const s of [r5, r1]) {
      assert.ok((await get(s.id)).bundle, 'within the quota: kept');
      assert.equal((await get(s.id)).bundleDropped, undefined);
    }
    for (const s of [oldAccepted, accepted]) assert.ok((await get(s.id)).bundle, 'accepted submissions are the data of record: never dropped');
    // The list shows why (the UI says it).
    const listed = await repo.listSubmissions({ outcome: 'rejected', count: 50, offset: 0 });
    assert.equal(listed.items.find((s) => s.id === r10.id)?.bundleDropped, 'quota');
    // Idempotent.
    assert.deepEqual(await repo.pruneRejectedSubmissions({ retentionDays: 30, maxTotalBytes: 250_000, now }), { retention: 0, quota: 0 });
  });
});

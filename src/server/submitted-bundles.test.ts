// The submitted-Bundle pages over a real (embedded, in-memory) submission log: non-Bundles
// left out by the submitted-type column, exact totals and offsets; and the _lastUpdated parsing.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openRepository } from '../storage/index.js';
import type { Repository, SubmissionRecord } from '../storage/types.js';
import { FhirError } from './outcome.js';
import { bundlePage, parseBundleSearch } from './submitted-bundles.js';

function submission(k: number, bundle: unknown): Omit<SubmissionRecord, 'id'> {
  return {
    receivedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, k)).toISOString(),
    usagers: [],
    resourceCount: 1,
    outcome: 'accepted',
    httpStatus: 200,
    errorCount: 0,
    warningCount: 0,
    bundle,
  };
}

describe('submitted Bundles', () => {
  let repo: Repository;
  /** Log ids newest first, and whether each is a Bundle. */
  const log: { id: string; bundle: boolean }[] = [];
  before(async () => {
    repo = await openRepository({ dataDir: 'memory://' });
    // Seconds 0..11: a DocumentReference every third submission, the rest Bundles.
    for (let k = 0; k < 12; k++) {
      const isBundle = k % 3 !== 1;
      const rec = await repo.recordSubmission(submission(k, isBundle ? { resourceType: 'Bundle', type: 'transaction', entry: [] } : { resourceType: 'DocumentReference' }));
      log.unshift({ id: rec.id, bundle: isBundle });
    }
  });
  after(async () => {
    await repo?.close();
  });

  it('pages over Bundles only, with an exact total and plain offsets', async () => {
    const bundles = log.filter((x) => x.bundle).map((x) => x.id);
    assert.equal(bundles.length, 8);
    const ids: string[] = [];
    let offset = 0;
    for (let pages = 0; pages < 10; pages++) {
      const page = await bundlePage(repo, { count: 3, offset });
      assert.equal(page.total, 8);
      ids.push(...page.bundles.map((b) => b.id!));
      if (page.next === undefined) break;
      assert.equal(page.bundles.length, 3);
      assert.equal(page.next, offset + 3);
      offset = page.next;
    }
    assert.deepEqual(ids, bundles);
    // _count=0: the total alone.
    assert.deepEqual(await bundlePage(repo, { count: 0, offset: 0 }), { bundles: [], total: 8 });
    assert.deepEqual(await bundlePage(repo, { count: 3, offset: 0, empty: true }), { bundles: [], total: 0 });
  });

  it('the log filter by submitted type (storage): DocumentReference creates apart from Bundles', async () => {
    const docs = await repo.listSubmissions({ submittedType: 'DocumentReference', count: 100, offset: 0 });
    assert.equal(docs.total, 4);
    assert.deepEqual(docs.items.map((x) => x.id), log.filter((x) => !x.bundle).map((x) => x.id));
    assert.equal((await repo.listSubmissions({ count: 100, offset: 0 })).total, 12);
  });

  it('_lastUpdated filters on the reception instant', async () => {
    const range = async (pairs: [string, string][]) => (await bundlePage(repo, parseBundleSearch([...pairs, ['_count', '100']]))).bundles.map((b) => b.meta!.lastUpdated);
    assert.deepEqual(await range([['_lastUpdated', 'ge2026-01-01T00:00:09Z']]), ['2026-01-01T00:00:11.000Z', '2026-01-01T00:00:09.000Z']);
    assert.deepEqual(await range([['_lastUpdated', 'gt2026-01-01T00:00:09Z']]), ['2026-01-01T00:00:11.000Z']);
    assert.deepEqual(await range([['_lastUpdated', 'lt2026-01-01T00:00:02Z']]), ['2026-01-01T00:00:00.000Z']);
    assert.deepEqual(await range([['_lastUpdated', 'le2026-01-01T00:00:02Z']]), ['2026-01-01T00:00:02.000Z', '2026-01-01T00:00:00.000Z']);
    // A minute covers its 60 seconds; an offset is honoured.
    assert.equal((await range([['_lastUpdated', '2026-01-01T01:00+01:00']])).length, 8);
    assert.deepEqual(await range([['_lastUpdated', 'eq2026-01-01T00:00:03']]), ['2026-01-01T00:00:03.000Z']);
  });

  it('parses _count, _offset, _lastUpdated and refuses the rest', () => {
    assert.deepEqual(parseBundleSearch([]), { count: 20, offset: 0 });
    assert.deepEqual(parseBundleSearch([['_count', '5000'], ['_offset', '7'], ['_format', 'xml'], ['_total', 'none']]), { count: 100, offset: 7, noTotal: true });
    assert.deepEqual(parseBundleSearch([['_total', 'accurate']]), { count: 20, offset: 0 });
    assert.deepEqual(parseBundleSearch([['_lastUpdated', '2026'], ['_lastUpdated', 'lt2026-06']]), { count: 20, offset: 0, from: '2026-01-01T00:00:00.000Z', to: '2026-05-31T23:59:59.999Z' });
    assert.equal(parseBundleSearch([['_lastUpdated', 'gt2026'], ['_lastUpdated', 'lt2026-06']]).empty, true);
    for (const bad of [['_lastUpdated', 'sa2026'], ['_lastUpdated', '2026-02-30'], ['_lastUpdated', '2026,2027'], ['_count', '-1'], ['_total', 'maybe'], ['status', 'x']] as [string, string][]) {
      assert.throws(() => parseBundleSearch([bad]), (e: unknown) => e instanceof FhirError && e.status === 400, bad.join('='));
    }
  });
});

// The durable change feed over HTTP (GET /fhir/$changes): every version once, in order, paged by
// a cursor that a consumer resumes after its own restart and after the server's (PostgreSQL:
// a second server process on the same database); a bad cursor is a 400.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { startServer, type RunningServer } from './app.js';
import { createTestDatabase, http, postgresSkipReason, startTestServer, type TestServer } from './test-support.js';
import { SHARED_FHIR } from '../testing/paths.js';
import { horizonPassed } from '../storage/testing.js';
import { subscription } from '../notification/testing.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Reads the feed from `cursor` to its end, `count` at a time; returns the versions and the last cursor. */
async function readAll(base: string, cursor: string | undefined, count: number): Promise<{ versions: string[]; cursor: string | undefined }> {
  const versions: string[] = [];
  for (;;) {
    const r = await http(`${base}/$changes?${cursor ? `cursor=${cursor}&` : ''}_count=${count}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.type, 'history');
    const next = r.headers.get('x-change-cursor') ?? '';
    if (r.json.entry === undefined || r.json.entry.length === 0) return { versions, cursor };
    versions.push(...r.json.entry.map((e: Json) => e.request.url));
    assert.equal(r.json.link.find((l: Json) => l.relation === 'next').url.includes(`cursor=${next}`), true);
    cursor = next;
  }
}

// Subscriptions are what an NdE server lets a client create, update and delete.
const NDE = 'ans.fhir.fr.nde#3.0.0-ballot';
const sub = (reason: string) => ({ ...subscription({ channel: { type: 'rest-hook', endpoint: 'http://127.0.0.1:9/hook' } }), reason });

describe('change feed [embedded]', () => {
  let s: TestServer;
  after(async () => s?.stop());
  test('every version once, in order, paged by the cursor; a consumer resumes from its cursor', async () => {
    s = await startTestServer('embedded', { igs: [NDE], notifications: false });
    const ids: string[] = [];
    for (const f of ['A', 'B', 'C']) ids.push((await http(`${s.base}/Subscription`, { body: sub(f) })).json.id);
    await http(`${s.base}/Subscription/${ids[0]}`, { method: 'PUT', body: { ...sub('A2'), id: ids[0] } });
    await http(`${s.base}/Subscription/${ids[1]}`, { method: 'DELETE' });
    await horizonPassed(s.repo.db);
    const first = await readAll(s.base, undefined, 2);
    assert.deepEqual(first.versions, [`Subscription/${ids[0]}/_history/1`, `Subscription/${ids[1]}/_history/1`, `Subscription/${ids[2]}/_history/1`, `Subscription/${ids[0]}/_history/2`, `Subscription/${ids[1]}/_history/2`]);
    // Nothing new: an empty page, the same cursor.
    const again = await http(`${s.base}/$changes?cursor=${first.cursor}`);
    assert.equal((again.json.entry ?? []).length, 0);
    assert.equal(again.headers.get('x-change-cursor'), first.cursor);
    // A Bundle of three entries: three versions; the consumer (restarted) resumes from its cursor.
    const bundle = { resourceType: 'Bundle', type: 'transaction', entry: ['D', 'E', 'F'].map((f) => ({ resource: sub(f), request: { method: 'POST', url: 'Subscription' } })) };
    assert.equal((await http(s.base, { body: bundle })).status, 200);
    await horizonPassed(s.repo.db);
    // Its three versions are one row of the feed (D-355): a page of 2 cuts it, the cursor says where.
    const cut = await http(`${s.base}/$changes?cursor=${first.cursor}&_count=2`);
    assert.equal(cut.json.entry.length, 2);
    assert.match(cut.headers.get('x-change-cursor') ?? '', /^\d+\.\d+\.2$/);
    const rest = await readAll(s.base, first.cursor, 2);
    assert.equal(rest.versions.length, 3);
    assert.ok(rest.versions.every((v) => /^Subscription\/[^/]+\/_history\/1$/.test(v)));
    assert.deepEqual((await readAll(s.base, first.cursor, 100)).versions, rest.versions);
    assert.equal((await http(`${s.base}/$changes?cursor=nonsense`)).status, 400);
  });
});

const pgSkip = await postgresSkipReason();
describe('change feed [postgres]: resumed across a server restart', { skip: pgSkip }, () => {
  const servers: RunningServer[] = [];
  let drop: (() => Promise<void>) | undefined;
  after(async () => {
    for (const x of servers) await x.close().catch(() => undefined);
    await drop?.();
  });
  test('the cursor of the first server is good on the second, nothing lost or repeated', async () => {
    const db = await createTestDatabase();
    drop = db.drop;
    const opts = { port: 0, host: '127.0.0.1', packages: [SHARED_FHIR], igs: [NDE], notifications: false as const, logLevel: 'silent', database: db.url };
    const a = await startServer(opts);
    servers.push(a);
    const baseA = `${a.url}/fhir`;
    for (const f of ['A', 'B', 'C', 'D']) await http(`${baseA}/Subscription`, { body: sub(f) });
    await horizonPassed(a.repo.db);
    const half = await readAll(baseA, undefined, 2);
    assert.equal(half.versions.length, 4);
    await a.close();
    servers.pop();
    const b = await startServer(opts);
    servers.push(b);
    const baseB = `${b.url}/fhir`;
    for (const f of ['E', 'F']) await http(`${baseB}/Subscription`, { body: sub(f) });
    await horizonPassed(b.repo.db);
    const rest = await readAll(baseB, half.cursor, 1);
    assert.equal(rest.versions.length, 2);
    const all = await readAll(baseB, undefined, 100);
    assert.deepEqual(all.versions, [...half.versions, ...rest.versions]);
    assert.equal(new Set(all.versions).size, 6);
  });
});

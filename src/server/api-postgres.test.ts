// HTTP tests on PostgreSQL at 127.0.0.1:5432 (a fresh database created and dropped by this file).
// Skipped with a message when PostgreSQL is absent, except under CI=true where that fails.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SHARED_FHIR } from '../testing/paths.js';
import { startServer, type RunningServer } from './app.js';
import { serverSuite } from './suite.js';
import { createTestDatabase, http, parseLocation, postgresSkipReason, readExample } from './test-support.js';

const skip = await postgresSkipReason();

serverSuite('postgres', skip);

describe('two servers on one PostgreSQL database (the scale-out set-up)', { skip }, () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  const servers: RunningServer[] = [];
  before(async () => {
    db = await createTestDatabase();
    // Started together: the migrations must cope (advisory lock).
    servers.push(
      ...(await Promise.all([1, 2].map(() => startServer({ port: 0, database: db.url, packages: [SHARED_FHIR], logLevel: 'silent' })))),
    );
  });
  after(async () => {
    for (const s of servers) await s.close();
    await db?.drop();
  });

  it('concurrent resends spread over both servers end with one current version per business object', async () => {
    const bundle = readExample('Bundle-tddui-pp-pa-bundle-example.json');
    const locationsOf = (results: { json: any }[]) => results.map((r) => r.json.entry.map((e: { response: { location: string } }) => parseLocation(e.response.location))); // eslint-disable-line @typescript-eslint/no-explicit-any
    // Identical sends: one resource per entry, one version (the no-op rule).
    const same = await Promise.all([0, 1, 0, 1, 0, 1].map((k) => http(`${servers[k]!.url}/fhir`, { body: bundle })));
    for (const r of same) assert.equal(r.status, 200, r.text.slice(0, 300));
    for (const l of locationsOf(same)) assert.ok(l.every((x: { version: number }) => x.version === 1));
    // Six different resends (a tag each): versions 2..7, each given once.
    const tagged = (n: number) => {
      const b = structuredClone(bundle);
      for (const e of b.entry) e.resource.meta = { ...(e.resource.meta ?? {}), tag: [{ system: 'urn:tddui:test:resend', code: `r${n}` }] };
      return b;
    };
    const results = await Promise.all([0, 1, 0, 1, 0, 1].map((k, n) => http(`${servers[k]!.url}/fhir`, { body: tagged(n) })));
    for (const r of results) assert.equal(r.status, 200, r.text.slice(0, 300));
    const locations = locationsOf(results);
    for (let k = 0; k < bundle.entry.length; k++) {
      const ids = new Set([...locations, ...locationsOf(same)].map((l) => `${l[k].type}/${l[k].id}`));
      assert.equal(ids.size, 1, `entry ${k}: one resource`);
      assert.deepEqual(locations.map((l) => l[k].version).sort((a, b) => a - b), [2, 3, 4, 5, 6, 7], `entry ${k}: versions`);
    }
    // Either server reads what the other wrote.
    const { type, id } = locations[0]![0]!;
    const [a, b] = await Promise.all(servers.map((s) => http(`${s.url}/fhir/${type}/${id}`)));
    assert.equal(a!.json.meta.versionId, '7');
    assert.deepEqual(a!.json, b!.json);
    const patients = await http(`${servers[1]!.url}/fhir/Patient?_summary=count`);
    assert.equal(patients.json.total, 1);
  });
});

// Reads scoped by organisation or territory (issue 18), on a real server with real tokens, on
// both databases. Two ESSMS in two départements (48 and 13) send their data; a token restricted
// to département 48 tries to read around its scope — ids of the other ESSMS (read, vread,
// history), `_include`, `_revinclude`, chained searches, `_has`, totals (`_summary=count`),
// submitted Bundles, `$export` contents, the audit trail, the UI pages and their CSV exports —
// and sees only its ESSMS everywhere. An unrestricted token sees both (so each check can fail),
// and a token restricted to the other ESSMS' FINESS sees only that one.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { scopedRepository } from '../storage/scope.js';
import { http, postgresSkipReason, readExample, signedTokens, startTestServer, type DbKind, type TestServer } from './test-support.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** ESSMS of département 48 (the official example's) and of département 13 (a copy of it). */
const A = '480787529';
const B = '130000011';
const B_FAMILY = 'HORSPERIMETRE';

const bearer = (t: string, html = false) => ({ authorization: `Bearer ${t}`, ...(html ? { accept: 'text/html' } : {}) });

/** The official SSIAD Bundle, as sent by the ESSMS of département 13: its FINESS everywhere, another family name. */
function bundleOfB(): Json {
  const text = JSON.stringify(readExample('Bundle-tddui-bundle-example.json')).split(A).join(B);
  const b = JSON.parse(text);
  for (const e of b.entry) if (e.resource.resourceType === 'Patient') for (const n of e.resource.name ?? []) n.family = B_FAMILY;
  return b;
}

const ids = (bundle: Json, type?: string): string[] => (bundle.entry ?? []).filter((e: Json) => e.search?.mode !== 'include' && (!type || e.resource.resourceType === type)).map((e: Json) => `${e.resource.resourceType}/${e.resource.id}`);
const included = (bundle: Json): string[] => (bundle.entry ?? []).filter((e: Json) => e.search?.mode === 'include').map((e: Json) => `${e.resource.resourceType}/${e.resource.id}`);

const pgSkip = await postgresSkipReason();

for (const kind of ['embedded', 'postgres'] as DbKind[]) {
  describe(`reads scoped by organisation or territory (${kind})`, () => {
    const skip = kind === 'postgres' ? pgSkip : undefined;
    let s: TestServer;
    let all: string; // unrestricted reader (and writer of both ESSMS)
    let dep48: string; // restricted to département 48
    let finessB: string; // restricted to ESSMS B
    const patient: Record<'A' | 'B', string> = { A: '', B: '' };
    const submission: Record<'A' | 'B', string> = { A: '', B: '' };
    /** Resources owned by each ESSMS, as the database says. */
    const owned = async (finess: string, type?: string): Promise<Set<string>> => {
      const r = await s.repo.db.query<{ t: string; id: string }>(`SELECT resource_type AS t, id FROM resource WHERE NOT deleted AND owner = $1${type ? ' AND resource_type = $2' : ''}`, type ? [finess, type] : [finess]);
      return new Set(r.rows.map((x) => `${x.t}/${x.id}`));
    };

    before(async () => {
      if (skip) return;
      const tokens = await signedTokens();
      s = await startTestServer(kind, { auth: tokens.auth });
      all = await tokens.sign({ sub: 'cnsa', scope: 'system/*.read system/*.write system/AuditEvent.read', finess: [A, B] });
      dep48 = await tokens.sign({ sub: 'departement-48', scope: 'system/*.read system/AuditEvent.read', read_departements: ['48'] });
      finessB = await tokens.sign({ sub: 'essms-b', scope: 'system/*.read', read_finess: B });
      for (const [k, body] of [['A', readExample('Bundle-tddui-bundle-example.json')], ['B', bundleOfB()]] as const) {
        const r = await http(s.base, { body, headers: bearer(all) });
        assert.equal(r.status, 200, r.text.slice(0, 600));
        patient[k] = /Patient\/([^/]+)/.exec((r.json.entry as Json[]).map((e) => e.response.location as string).find((l) => /Patient\//.test(l))!)![1]!;
        const sub = await s.repo.listSubmissions({ organizationFiness: k === 'A' ? A : B, count: 1, offset: 0 });
        submission[k] = sub.items[0]!.id;
      }
      // Cross references between the two ESSMS (what includes and chains could follow): a séjour
      // of A about B's usager, and one of B about A's usager.
      await s.repo.create({ resourceType: 'Encounter', status: 'finished', class: { code: 'VR' }, subject: { reference: `Patient/${patient.B}` } }, { owner: A });
      await s.repo.create({ resourceType: 'Encounter', status: 'finished', class: { code: 'VR' }, subject: { reference: `Patient/${patient.A}` } }, { owner: B });
    });
    after(async () => s?.stop());

    it('search: matches and totals of its ESSMS only, for a département and for a FINESS', { skip }, async () => {
      for (const type of ['Patient', 'Encounter', 'Task', 'Organization']) {
        const mine = await owned(A, type);
        const theirs = await owned(B, type);
        assert.ok(mine.size > 0 && theirs.size > 0, `${type}: both ESSMS have some`);
        const r = await http(`${s.base}/${type}?_count=200`, { headers: bearer(dep48) });
        assert.equal(r.status, 200, r.text.slice(0, 300));
        assert.deepEqual(new Set(ids(r.json)), mine, `${type}: département 48 sees A's`);
        assert.equal(r.json.total, mine.size);
        const count = await http(`${s.base}/${type}?_summary=count`, { headers: bearer(dep48) });
        assert.equal(count.json.total, mine.size, `${type}: _summary=count`);
        // A page smaller than the results: the total is counted, in scope too.
        const small = await http(`${s.base}/${type}?_count=1`, { headers: bearer(dep48) });
        assert.equal(small.json.total, mine.size, `${type}: total of a partial page`);
        const b = await http(`${s.base}/${type}?_count=200`, { headers: bearer(finessB) });
        assert.deepEqual(new Set(ids(b.json)), theirs, `${type}: FINESS B sees B's`);
        const everything = await http(`${s.base}/${type}?_summary=count`, { headers: bearer(all) });
        assert.equal(everything.json.total, mine.size + theirs.size, `${type}: the unrestricted token sees both`);
      }
    });

    it('ids of the other ESSMS: read, vread, history are "not found"', { skip }, async () => {
      const other = `Patient/${patient.B}`;
      assert.equal((await http(`${s.base}/${other}`, { headers: bearer(all) })).status, 200);
      for (const path of [other, `${other}/_history/1`, `${other}/_history`]) {
        const r = await http(`${s.base}/${path}`, { headers: bearer(dep48) });
        assert.equal(r.status, 404, `${path}: ${r.status} ${r.text.slice(0, 200)}`);
        assert.ok(!r.text.includes(B_FAMILY));
      }
      assert.equal((await http(`${s.base}/Patient/${patient.A}/_history/1`, { headers: bearer(dep48) })).status, 200);
      // Type and system history: versions of its ESSMS only (and their total).
      const h = await http(`${s.base}/Encounter/_history?_count=200`, { headers: bearer(dep48) });
      assert.equal(h.status, 200);
      const mine = await owned(A, 'Encounter');
      const seen = new Set((h.json.entry as Json[]).map((e) => `Encounter/${e.resource.id}`));
      assert.deepEqual(seen, mine);
      const sys = await http(`${s.base}/_history?_count=500`, { headers: bearer(dep48) });
      assert.equal(sys.status, 200);
      assert.ok(!sys.text.includes(B) && !sys.text.includes(B_FAMILY), 'system history: nothing of B');
      assert.equal(sys.json.total, (sys.json.entry as Json[]).length);
      const sysAll = await http(`${s.base}/_history?_count=500`, { headers: bearer(all) });
      assert.ok(sysAll.json.total > sys.json.total);
    });

    it('_include, _revinclude, chains and _has do not reach the other ESSMS', { skip }, async () => {
      // A's séjour about B's usager: included for the unrestricted token, not for département 48.
      const inc = (t: string) => http(`${s.base}/Encounter?_include=Encounter:subject&_count=200`, { headers: bearer(t) });
      assert.ok(included((await inc(all)).json).includes(`Patient/${patient.B}`));
      const mineInc = await inc(dep48);
      assert.ok(!included(mineInc.json).includes(`Patient/${patient.B}`) && !mineInc.text.includes(B_FAMILY), '_include');
      assert.ok(included(mineInc.json).includes(`Patient/${patient.A}`));
      // B's séjour about A's usager: revincluded for the unrestricted token only.
      const rev = (t: string) => http(`${s.base}/Patient?_id=${patient.A}&_revinclude=Encounter:subject`, { headers: bearer(t) });
      const revAll = included((await rev(all)).json);
      const revMine = included((await rev(dep48)).json);
      const bEncounters = await owned(B, 'Encounter');
      assert.ok(revAll.some((x) => bEncounters.has(x)), 'the unrestricted token revincludes B’s séjour');
      assert.ok(!revMine.some((x) => bEncounters.has(x)), '_revinclude');
      assert.ok(revMine.length > 0);
      // A chain through B's usager (an oracle on B's data): A's séjour matches for the unrestricted token only.
      const chain = (t: string) => http(`${s.base}/Encounter?subject:Patient.family=${B_FAMILY}&_summary=count`, { headers: bearer(t) });
      assert.ok((await chain(all)).json.total >= 2);
      assert.equal((await chain(dep48)).json.total, 0, 'chained search');
      // _has through B's séjour about A's usager: A's usager matches for the unrestricted token only.
      const has = (t: string) => http(`${s.base}/Patient?_has:Encounter:subject:class=VR&_id=${patient.A}&_summary=count`, { headers: bearer(t) });
      assert.equal((await has(all)).json.total, 1);
      // (A's own cross séjour is about B: nothing of A's about A has class VR.)
      assert.equal((await has(dep48)).json.total, 0, '_has');
    });

    it('submitted Bundles: the other ESSMS’ are not found, the list and its total are of its ESSMS', { skip }, async () => {
      assert.equal((await http(`${s.base}/Bundle/${submission.B}`, { headers: bearer(dep48) })).status, 404);
      assert.equal((await http(`${s.base}/Bundle/${submission.A}`, { headers: bearer(dep48) })).status, 200);
      const list = await http(`${s.base}/Bundle`, { headers: bearer(dep48) });
      assert.equal(list.status, 200);
      assert.deepEqual((list.json.entry as Json[]).map((e) => e.resource.id), [submission.A]);
      assert.equal(list.json.total, 1);
      assert.equal((await http(`${s.base}/Bundle`, { headers: bearer(all) })).json.total, 2);
    });

    it('$export holds the resources of its ESSMS, each once, and nothing else', { skip }, async () => {
      const k = await http(`${s.base}/$export`, { headers: { ...bearer(dep48), prefer: 'respond-async' } });
      assert.equal(k.status, 202, k.text);
      const poll = k.headers.get('content-location')!;
      let manifest: Json;
      for (let i = 0; i < 200; i++) {
        const r = await http(poll, { headers: bearer(dep48) });
        if (r.status === 200) {
          manifest = r.json;
          break;
        }
        assert.equal(r.status, 202, r.text);
        await new Promise((res) => setTimeout(res, 100));
      }
      assert.ok(manifest, 'the export completes');
      const exported: string[] = [];
      for (const o of manifest.output as Json[]) {
        const f = await fetch(o.url, { headers: bearer(dep48) });
        for (const line of (await f.text()).split('\n').filter(Boolean)) {
          const r = JSON.parse(line);
          exported.push(`${r.resourceType}/${r.id}`);
        }
      }
      const mine = await owned(A);
      assert.equal(exported.length, new Set(exported).size, 'each once');
      assert.deepEqual(new Set(exported), mine, 'exactly the resources of département 48');
    });

    it('the audit trail: only accesses to its usagers', { skip }, async () => {
      // The unrestricted token reads B's usager; département 48 reads A's.
      assert.equal((await http(`${s.base}/Patient/${patient.B}`, { headers: bearer(all) })).status, 200);
      assert.equal((await http(`${s.base}/Patient/${patient.A}`, { headers: bearer(dep48) })).status, 200);
      const everything = await http(`${s.base}/AuditEvent?_count=500`, { headers: bearer(all) });
      const patientsOf = (ev: Json): string[] => (ev.entity ?? []).filter((e: Json) => e.role?.code === '1').map((e: Json) => e.what.reference);
      assert.ok((everything.json.entry as Json[]).some((e) => patientsOf(e.resource).includes(`Patient/${patient.B}`)));
      const mine = await http(`${s.base}/AuditEvent?_count=500`, { headers: bearer(dep48) });
      assert.equal(mine.status, 200);
      const events = (mine.json.entry as Json[]).map((e) => e.resource);
      assert.ok(events.length > 0 && events.length < everything.json.entry.length);
      assert.equal(mine.json.total, events.length);
      for (const ev of events) {
        const ps = patientsOf(ev);
        assert.ok(ps.length > 0 && ps.every((p) => p === `Patient/${patient.A}`), JSON.stringify(ps));
      }
      const bRead = (everything.json.entry as Json[]).find((e) => patientsOf(e.resource).includes(`Patient/${patient.B}`))!.resource.id;
      assert.equal((await http(`${s.base}/AuditEvent/${bRead}`, { headers: bearer(dep48) })).status, 404);
    });

    it('what cannot be restricted is refused: the change feed, the other UI pages', { skip }, async () => {
      assert.equal((await http(`${s.base}/$changes`, { headers: bearer(dep48) })).status, 403);
      assert.equal((await http(`${s.base}/$changes`, { headers: bearer(all) })).status, 200);
      assert.equal((await http(`${s.url}/usagers/${patient.A}/coordination`, { headers: bearer(dep48, true) })).status, 403);
      assert.equal((await http(`${s.url}/mes-cahiers`, { headers: bearer(dep48, true) })).status, 403);
    });

    it('UI pages: usagers, envois, pilotage, qualité, journal show its ESSMS only', { skip }, async () => {
      const page = async (path: string, t = dep48) => {
        const r = await http(`${s.url}${path}`, { headers: bearer(t, true) });
        assert.equal(r.status, 200, `${path}: ${r.status} ${r.text.slice(0, 300)}`);
        return r.text;
      };
      for (const path of ['/usagers', '/envois', '/pilotage', '/qualite', '/revues']) {
        const mine = await page(path);
        assert.ok(!mine.includes(B), `${path}: nothing of FINESS ${B}`);
        assert.ok(!mine.includes(B_FAMILY), `${path}: nothing of B's usager`);
        const both = await page(path, all);
        if (path !== '/revues') assert.ok(both.includes(B) || both.includes(B_FAMILY), `${path}: the unrestricted token sees B`);
      }
      assert.ok((await page('/usagers')).includes(`/usagers/${patient.A}`));
      assert.match(await page('/pilotage'), new RegExp(A));
      assert.equal((await http(`${s.url}/usagers/${patient.B}`, { headers: bearer(dep48, true) })).status, 404);
      assert.equal((await http(`${s.url}/usagers/${patient.A}`, { headers: bearer(dep48, true) })).status, 200);
      assert.equal((await http(`${s.url}/envois/${submission.B}`, { headers: bearer(dep48, true) })).status, 404);
      assert.equal((await http(`${s.url}/envois/${submission.B}/rapport.html`, { headers: bearer(dep48, true) })).status, 404);
      assert.equal((await http(`${s.url}/envois/${submission.B}/bundle.json`, { headers: bearer(dep48, true) })).status, 404);
      const journal = await page('/journal');
      assert.ok(!journal.includes(patient.B));
      // What the usager page reads goes through the scoped repository: B's séjour about A's usager is not among it.
      const about = { resourceType: 'Encounter', params: [{ name: 'subject', values: [`Patient/${patient.A}`] }], count: 100, offset: 0 };
      const bEncounters = await owned(B, 'Encounter');
      assert.ok((await s.repo.search(about)).matches.some((m) => bEncounters.has(`Encounter/${m.id}`)));
      const scopedRepo = scopedRepository(s.repo, { finess: [], departements: ['48'] });
      assert.ok(!(await scopedRepo.search(about)).matches.some((m) => bEncounters.has(`Encounter/${m.id}`)), 'scoped repository: search');
      await assert.rejects(scopedRepo.read('Patient', patient.B), /not known|inconnu/);
    });

    it('CSV exports: usagers, envois, pilotage, qualité hold its ESSMS only', { skip }, async () => {
      for (const path of ['/usagers.csv', '/envois.csv', '/pilotage.csv', '/pilotage.csv?tableau=semaines', '/pilotage.csv?tableau=gir', '/qualite.csv', '/qualite.json']) {
        const mine = await http(`${s.url}${path}`, { headers: bearer(dep48) });
        assert.equal(mine.status, 200, path);
        assert.ok(!mine.text.includes(B) && !mine.text.includes(B_FAMILY), `${path}: nothing of B`);
        if (path === '/usagers.csv' || path === '/envois.csv' || path === '/pilotage.csv') {
          const rows = parse(mine.text, { bom: true, delimiter: ';', columns: true }) as Record<string, string>[];
          assert.equal(rows.length, 1, path);
          assert.equal(rows[0]!.FINESS, A, path);
          const both = parse((await http(`${s.url}${path}`, { headers: bearer(all) })).text, { bom: true, delimiter: ';', columns: true }) as Record<string, string>[];
          assert.deepEqual(new Set(both.map((r) => r.FINESS)), new Set([A, B]), `${path}: the unrestricted token`);
        }
      }
    });
  });
}

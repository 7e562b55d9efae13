// One server, both TDDUI versions (issue 22): the official 2.2.0 and 2.3.0 examples through
// POST /fhir and $validate against the complete packages of the cache; the submission log says
// which version accepted each Bundle; 2.3.0 Observations stored, indexed, searchable
// (`Observation?patient=&code=&date=`) and in /metadata; a 2.3.0-only element under an explicit
// `meta.profile` `|2.2.0` rejected; `--ig` limits what is accepted.
//
// Run: npx tsc -p tsconfig.json && node --test dist/src/server/ig-versions.test.js
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SHARED_FHIR, TDDUI_VERSIONS, tdduiExamplesDir } from '../testing/paths.js';
import { startServer, type RunningServer } from './app.js';
import { http } from './test-support.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = any;
const example = (version: string, f: string): Doc => JSON.parse(readFileSync(join(tdduiExamplesDir(version), f), 'utf8'));
const errorsOf = (oo: Doc) => (oo?.issue ?? []).filter((i: Doc) => i.severity === 'error' || i.severity === 'fatal').map((i: Doc) => `${i.expression?.[0]}: ${i.diagnostics}`);
const BUNDLE = 'https://interop.esante.gouv.fr/ig/fhir/tddui/StructureDefinition/tddui-bundle';

/** The 2.3.0 SSIAD Bundle with the three official 2.3.0 Observations added, referring to its usager. */
function bundleWithObservations(): Doc {
  const b = example('2.3.0', 'Bundle-tddui-bundle-example.json');
  const patientUrl = b.entry.find((e: Doc) => e.resource.resourceType === 'Patient').fullUrl;
  const files = ['Observation-tddui-observation-cause-mortalite-example.json', 'Observation-tddui-observation-mobilite-usager-example.json', 'Observation-tddui-observation-periodescolaire-example.json'];
  files.forEach((f, i) => {
    const o = example('2.3.0', f);
    delete o.id;
    o.subject = { reference: patientUrl };
    if (i === 0) o.effectiveDateTime = '2024-01-10';
    if (i === 2) o.effectivePeriod = { start: '2023-09-04', end: '2024-07-05' };
    b.entry.push({ fullUrl: `urn:uuid:0b5e0c1e-2f4a-4c1b-9a7e-00000000000${i}`, resource: o, request: { method: 'POST', url: 'Observation' } });
  });
  return b;
}

describe('one server, TDDUI 2.2.0 and 2.3.0 side by side', { concurrency: false }, () => {
  let s: RunningServer;
  let base: string;
  before(async () => {
    s = await startServer({ port: 0, host: '127.0.0.1', dataDir: 'memory://', packages: [SHARED_FHIR], logLevel: 'silent' });
    base = `${s.url}/fhir`;
  });
  after(() => s?.close());

  it('accepts the official Bundles of both versions, and logs which version accepted each', async () => {
    assert.deepEqual(s.validator.igs.map((ig) => ig.version), ['2.3.0', '2.2.0']);
    for (const version of TDDUI_VERSIONS) {
      for (const f of readdirSync(tdduiExamplesDir(version)).filter((x) => x.startsWith('Bundle-'))) {
        const r = await http(base, { body: example(version, f) });
        assert.equal(r.status, 200, `${version}/${f}: ${errorsOf(r.json).join('\n')}`);
        const sub = await s.repo.getSubmission(r.headers.get('x-tddui-submission')!);
        assert.ok(sub?.ig === 'ans.fhir.fr.tddui#2.3.0' || sub?.ig === 'ans.fhir.fr.tddui#2.2.0', String(sub?.ig));
        const said = (sub!.report as Doc).issue.find((i: Doc) => i.details?.coding?.some((c: Doc) => c.code === 'tddui-ig-version'));
        assert.ok(said?.diagnostics.includes(sub!.ig!.split('#')[1]), 'the stored report says which version accepted it');
        // Warnings counted are data findings; notices and IG defects apart.
        assert.ok(typeof sub!.noticeCount === 'number' && sub!.noticeCount > 0, `${f}: ${sub!.noticeCount}`);
      }
    }
    // The 2.2.0 PP Bundle's usager has no birth date (1..1 in 2.3.0): accepted under 2.2.0.
    const pp = await http(base, { body: example('2.2.0', 'Bundle-tddui-pp-pa-bundle-example.json') });
    assert.equal((await s.repo.getSubmission(pp.headers.get('x-tddui-submission')!))?.ig, 'ans.fhir.fr.tddui#2.2.0');
  });

  it('every official example of both versions passes $validate with zero errors', async () => {
    let n = 0;
    for (const version of TDDUI_VERSIONS) {
      for (const f of readdirSync(tdduiExamplesDir(version)).filter((x) => x.endsWith('.json') && !x.startsWith('.'))) {
        const r = await http(`${base}/$validate`, { body: example(version, f) });
        assert.equal(r.status, 200, f);
        assert.deepEqual(errorsOf(r.json), [], `${version}/${f}`);
        n++;
      }
    }
    assert.equal(n, 100);
  });

  it('stores, indexes and serves 2.3.0 Observations: Observation?patient=&code=&date=, and /metadata', async () => {
    const r = await http(base, { body: bundleWithObservations() });
    assert.equal(r.status, 200, errorsOf(r.json).join('\n'));
    const locations: string[] = r.json.entry.map((e: Doc) => e.response.location);
    const patient = locations.find((l) => l.startsWith('Patient/'))!.split('/')[1];
    assert.equal(locations.filter((l) => l.startsWith('Observation/')).length, 3);
    const all = await http(`${base}/Observation?patient=Patient/${patient}`);
    assert.equal(all.json.total ?? all.json.entry.length, 3);
    const death = await http(`${base}/Observation?patient=${patient}&code=http://loinc.org|79378-6&date=ge2024-01-01`);
    assert.equal(death.status, 200);
    assert.deepEqual(death.json.entry.map((e: Doc) => e.resource.code.coding[0].code), ['79378-6']);
    assert.equal((await http(`${base}/Observation?patient=${patient}&code=http://loinc.org|79378-6&date=lt2024-01-01`)).json.entry?.length ?? 0, 0);
    const school = await http(`${base}/Observation?code=PERIODESCOL&date=ge2024-03-01&date=le2024-03-31`);
    assert.equal(school.json.entry.length, 1);
    const md = await http(`${base}/metadata`);
    const obs = md.json.rest[0].resource.find((x: Doc) => x.type === 'Observation');
    assert.ok(obs, 'Observation in /metadata');
    for (const p of ['patient', 'code', 'date']) assert.ok(obs.searchParam.some((x: Doc) => x.name === p), p);
    assert.match(obs.documentation, /ans\.fhir\.fr\.tddui/);
  });

  it('a 2.3.0-only element under an explicit meta.profile |2.2.0 is rejected; unversioned it is accepted', async () => {
    const b = example('2.3.0', 'Bundle-tddui-bundle-example.json');
    b.meta = { profile: [`${BUNDLE}|2.2.0`] };
    const r = await http(base, { body: b });
    assert.equal(r.status, 422);
    const errs = errorsOf(r.json);
    assert.ok(errs.some((e: string) => /household-situation|patient-validation|TDDUIHouseholdSituation|tddui-/.test(e)), errs.join('\n'));
    const sub = await s.repo.getSubmission(r.headers.get('x-tddui-submission')!);
    assert.equal(sub?.ig, 'ans.fhir.fr.tddui#2.2.0');
    b.meta = { profile: [BUNDLE] };
    assert.equal((await http(base, { body: b })).status, 200);
    b.meta = { profile: [`${BUNDLE}|2.3.0`] };
    assert.equal((await http(base, { body: b })).status, 200);
  });
});

describe('--ig limits what a server accepts', { concurrency: false }, () => {
  let s: RunningServer;
  let base: string;
  before(async () => {
    s = await startServer({ port: 0, host: '127.0.0.1', dataDir: 'memory://', packages: [SHARED_FHIR], igs: ['ans.fhir.fr.tddui#2.3.0'], logLevel: 'silent' });
    base = `${s.url}/fhir`;
  });
  after(() => s?.close());

  it('a 2.3.0-only receiver rejects a 2.2.0 Bundle that breaks 2.3.0 rules, and validates a |2.2.0 pin with 2.3.0 (saying so)', async () => {
    assert.deepEqual(s.validator.igs.map((ig) => ig.id), ['ans.fhir.fr.tddui#2.3.0']);
    assert.ok(!s.validator.set!.store.packages.some((p) => p.name === 'ans.fhir.fr.tddui' && p.version === '2.2.0'), '2.2.0 is not loaded');
    const pp = await http(base, { body: example('2.2.0', 'Bundle-tddui-pp-pa-bundle-example.json') });
    assert.equal(pp.status, 422);
    assert.ok(errorsOf(pp.json).some((e: string) => /birthDate/.test(e)), errorsOf(pp.json).join('\n'));
    const pinned = example('2.3.0', 'Bundle-tddui-bundle-example.json');
    pinned.meta = { profile: [`${BUNDLE}|2.2.0`] };
    const r = await http(base, { body: pinned });
    assert.equal(r.status, 200, errorsOf(r.json).join('\n'));
    const sub = await s.repo.getSubmission(r.headers.get('x-tddui-submission')!);
    assert.equal(sub?.ig, 'ans.fhir.fr.tddui#2.3.0');
    const w = (sub!.report as Doc).issue.find((i: Doc) => i.details?.coding?.some((c: Doc) => c.code === 'tddui-ig-version-substituted'));
    assert.match(w?.diagnostics ?? '', /2\.2\.0.*2\.3\.0/);
  });
});

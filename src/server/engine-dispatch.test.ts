// Per-IG engine dispatch on the write and $validate paths (src/rest/engines.ts), over real HTTP on
// both databases: one server is the Gestionnaire of CdL 3.0.1 (on FR Core 2.0.1) and CDS 2.0.1
// (on FR Core 2.1.0) beside TDDUI. FR Core 2.0.1 allows one `PI` identifier on a Patient, 2.1.0
// any number: a Patient with two is valid or not depending on which IG's FR Core checks it — the
// one of the IG it claims (a `|version` pin, the IG of the Bundle it comes in), never whichever
// IG happens to be loaded first (CdL here, so a shared engine would say 2.0.1 for everyone).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SHARED_FHIR } from '../testing/paths.js';
import { dumpTables, http, postgresSkipReason, startTestServer, type DbKind, type TestServer } from './test-support.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const FR_PATIENT = 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient';
const CDS = 'https://interop.esante.gouv.fr/ig/fhir/cds/StructureDefinition';

const pi = (value: string) => ({
  use: 'usual',
  type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'PI', display: 'Patient internal identifier' }] },
  system: 'urn:oid:1.2.250.1.71.4.2.7',
  value,
});

/** Two internal identifiers: FR Core 2.1.0 allows it, 2.0.1 does not (Patient.identifier:PI max 1). */
function twoPiPatient(profile: string): Json {
  return { resourceType: 'Patient', meta: { profile: [profile] }, identifier: [pi('A1'), pi('A2')], name: [{ family: 'Martin', given: ['Jeanne'] }], gender: 'female', birthDate: '1940-02-03' };
}

const errors = (oo: Json): string[] => (oo?.issue ?? []).filter((i: Json) => i.severity === 'error' || i.severity === 'fatal').map((i: Json) => `${i.expression?.[0]}: ${i.diagnostics}`);

const skipPg = await postgresSkipReason();

for (const kind of ['embedded', 'postgres'] as DbKind[]) {
  describe(`per-IG engine dispatch (${kind})`, { skip: kind === 'postgres' ? skipPg : undefined, concurrency: false }, () => {
    let s: TestServer;
    const previous = process.env.FHIR_PACKAGE_CACHE;
    before(async () => {
      process.env.FHIR_PACKAGE_CACHE = SHARED_FHIR;
      // CdL first: an engine over every IG would resolve an unversioned FR Core profile to 2.0.1.
      s = await startTestServer(kind, { packages: [join(SHARED_FHIR, 'ans.fhir.fr.cdl#3.0.1'), join(SHARED_FHIR, 'ans.fhir.fr.cds#2.0.1')] });
    });
    after(async () => {
      await s?.stop();
      if (previous === undefined) delete process.env.FHIR_PACKAGE_CACHE;
      else process.env.FHIR_PACKAGE_CACHE = previous;
    });

    it('a |version pin chooses the IG whose FR Core checks the resource', async () => {
      const old = await http(`${s.base}/Patient`, { body: twoPiPatient(`${FR_PATIENT}|2.0.1`) });
      assert.equal(old.status, 422, old.text.slice(0, 500));
      assert.ok(errors(old.json).some((e) => /Patient\.identifier/.test(e) && /maximum allowed = 1/.test(e)), errors(old.json).join('\n'));
      const current = await http(`${s.base}/Patient`, { body: twoPiPatient(`${FR_PATIENT}|2.1.0`) });
      assert.equal(current.status, 201, errors(current.json).join('\n'));
    });

    it("a Bundle's entries are checked in the context of the IG the Bundle claims", async () => {
      const org = { resourceType: 'Organization', meta: { profile: [`${CDS}/cds-organization`] }, active: true, name: 'SSIAD du Val' };
      // A usager of its own (a Patient sent with a circle is matched by identifier to one already stored, D-55).
      const patient = { ...twoPiPatient(FR_PATIENT), identifier: [pi('C1'), pi('C2')] };
      const bundle = (profile?: string, usager: Json = patient): Json => ({
        resourceType: 'Bundle',
        type: 'transaction',
        ...(profile ? { meta: { profile: [profile] } } : {}),
        entry: [
          {
            fullUrl: 'urn:uuid:6d1b8a4e-0c55-4c1e-9d43-1b2f8e7a0001',
            resource: {
              resourceType: 'CareTeam',
              meta: { profile: [`${CDS}/cds-ihe-careteam`] },
              identifier: [{ system: 'urn:oid:1.2.250.1.71.4.2.99', value: 'cercle-1' }],
              status: 'active',
              name: 'Cercle de Jeanne Martin',
              subject: { reference: 'urn:uuid:6d1b8a4e-0c55-4c1e-9d43-1b2f8e7a0002' },
              period: { start: '2026-01-05' },
              participant: [{ member: { reference: 'urn:uuid:6d1b8a4e-0c55-4c1e-9d43-1b2f8e7a0003' }, period: { start: '2026-01-05' } }],
              managingOrganization: [{ reference: 'urn:uuid:6d1b8a4e-0c55-4c1e-9d43-1b2f8e7a0003' }],
            },
            request: { method: 'POST', url: 'CareTeam' },
          },
          { fullUrl: 'urn:uuid:6d1b8a4e-0c55-4c1e-9d43-1b2f8e7a0002', resource: usager, request: { method: 'POST', url: 'Patient' } },
          { fullUrl: 'urn:uuid:6d1b8a4e-0c55-4c1e-9d43-1b2f8e7a0003', resource: org, request: { method: 'POST', url: 'Organization' } },
        ],
      });
      // Claiming CDS's creation Bundle: its Patient is FR Core 2.1.0's (CDS depends on it).
      const cds = await http(s.base, { body: bundle(`${CDS}/cds-bundle-transaction-creation`) });
      assert.equal(cds.status, 200, errors(cds.json).join('\n') || cds.text.slice(0, 800));
      assert.deepEqual(cds.json.entry.map((e: Json) => e.response.status), ['201 Created', '201 Created', '201 Created']);
      // Claiming nothing: the Patient goes to the first IG serving Patient (CdL, FR Core 2.0.1), and fails there.
      const before = await dumpTables(s.repo);
      // (Another usager: the first one now has a circle, and one circle per usager, D-55.)
      const plain = await http(s.base, { body: bundle(undefined, { ...patient, identifier: [pi('D1'), pi('D2')] }) });
      assert.equal(plain.status, 422, plain.text.slice(0, 500));
      assert.ok(errors(plain.json).some((e) => /^Bundle\.entry\[1\]\.resource\.identifier/.test(e) && /maximum allowed = 1/.test(e)), errors(plain.json).join('\n'));
      assert.deepEqual(await dumpTables(s.repo), before, 'nothing stored');
    });

    it('a profile no loaded IG defines: 422 naming it and the IGs loaded, nothing stored', async () => {
      const before = await dumpTables(s.repo);
      const r = await http(`${s.base}/Patient`, { body: { ...twoPiPatient(FR_PATIENT), meta: { profile: [FR_PATIENT, 'https://example.org/fhir/StructureDefinition/not-loaded'] } } });
      assert.equal(r.status, 422);
      const issue = r.json.issue[0];
      assert.equal(issue.code, 'not-supported');
      assert.deepEqual(issue.expression, ['Patient.meta.profile[1]']);
      assert.match(issue.diagnostics, /not-loaded.*ans\.fhir\.fr\.cdl#3\.0\.1/);
      assert.match(issue.details.text, /aucun des guides d’implémentation chargés/);
      assert.deepEqual(await dumpTables(s.repo), before);
      // In a transaction too, where the whole Bundle is refused.
      const t = await http(s.base, { body: { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { resourceType: 'Organization', meta: { profile: ['https://example.org/x'] }, name: 'x' }, request: { method: 'POST', url: 'Organization' } }] } });
      assert.equal(t.status, 422);
      assert.deepEqual(await dumpTables(s.repo), before);
    });

    it("$validate of a volet's resource uses its IG's engine", async () => {
      const old = await http(`${s.base}/$validate`, { body: twoPiPatient(`${FR_PATIENT}|2.0.1`) });
      assert.equal(old.status, 200);
      assert.ok(errors(old.json).some((e) => /maximum allowed = 1/.test(e)), errors(old.json).join('\n'));
      const careTeam = {
        resourceType: 'CareTeam',
        meta: { profile: [`${CDS}/cds-ihe-careteam`] },
        identifier: [{ system: 'urn:oid:1.2.250.1.71.4.2.99', value: 'cercle-2' }],
        status: 'active',
        name: 'Cercle',
        subject: { reference: 'Patient/x' },
        period: { start: '2026-01-05' },
      };
      const ok = await http(`${s.base}/CareTeam/$validate`, { body: careTeam });
      assert.deepEqual(errors(ok.json), []);
      const bad = await http(`${s.base}/CareTeam/$validate`, { body: { ...careTeam, status: 'not-a-status' } });
      assert.ok(errors(bad.json).some((e) => /CareTeam\.status/.test(e)), errors(bad.json).join('\n'));
    });

    it('/metadata: supportedProfile of the volets and of every accepted TDDUI version', async () => {
      const md = await http(`${s.base}/metadata`);
      const byType = new Map<string, Json>(md.json.rest[0].resource.map((r: Json) => [r.type, r]));
      assert.ok(byType.get('CareTeam').supportedProfile.includes(`${CDS}/cds-ihe-careteam`));
      assert.ok(byType.get('DocumentReference').supportedProfile.some((p: string) => p.startsWith('https://interop.esante.gouv.fr/ig/fhir/cdl/StructureDefinition/cdl-document-reference')));
      let tddui = 0;
      for (const ig of s.validator.igs) {
        for (const [type, urls] of ig.profilesByType) {
          const served = byType.get(type);
          if (!served) continue;
          for (const url of urls) assert.ok(served.supportedProfile?.includes(`${url}|${ig.version}`), `${type}: ${url}|${ig.version}`);
          tddui += urls.length;
        }
      }
      assert.ok(tddui > 10, `TDDUI profiles listed (${tddui})`);
      assert.ok(byType.get('Encounter').supportedProfile.some((p: string) => /tddui.*\|2\.2\.0$/.test(p)));
      assert.ok(byType.get('Encounter').supportedProfile.some((p: string) => /tddui.*\|2\.3\.0$/.test(p)));
    });
  });
}

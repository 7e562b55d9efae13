// The circle prefilled from the DUI's data (issue 14): for the usagers of the official TDDUI
// SSIAD and PA Bundles, members are proposed (nothing written); one accepted is a plain CareTeam
// write, valid against cds-ihe-careteam, and is no longer proposed. Real HTTP, both databases.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tdduiExamplesDir } from '../testing/paths.js';
import { dumpTables, http, postgresSkipReason, startTestServer, type DbKind, type TestServer } from '../server/test-support.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const CDS = 'https://interop.esante.gouv.fr/ig/fhir/cds/StructureDefinition';
const example = (f: string) => JSON.parse(readFileSync(join(tdduiExamplesDir('2.3.0'), f), 'utf8'));
const proposalsOf = (p: Json) =>
  (p.parameter ?? []).map((x: Json) => Object.fromEntries(x.part.map((q: Json) => [q.name, q.valueReference?.reference ?? q.valueString ?? q.valueDate])));

const skipPg = await postgresSkipReason();

for (const kind of ['embedded', 'postgres'] as DbKind[]) {
  describe(`circle proposals from the DUI's data (${kind})`, { skip: kind === 'postgres' ? skipPg : undefined, concurrency: false }, () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer(kind, { igs: ['ans.fhir.fr.cds#2.0.1', 'ans.fhir.fr.cdl#3.0.1'] });
    });
    after(() => s?.stop());

    const send = async (file: string): Promise<string> => {
      const r = await http(s.base, { body: example(file) });
      assert.equal(r.status, 200, r.text.slice(0, 500));
      return r.json.entry.map((e: Json) => e.response.location).find((l: string) => l.startsWith('Patient/')).split('/')[1];
    };

    it('SSIAD Bundle: the ESSMS of the current séjour and the professional of the agenda proposed; one accepted', async () => {
      const patient = await send('Bundle-tddui-bundle-example.json');
      const before = await dumpTables(s.repo);
      const r = await http(`${s.base}/Patient/${patient}/$circle-proposals`);
      assert.equal(r.status, 200, r.text.slice(0, 500));
      assert.equal(r.json.resourceType, 'Parameters');
      const list = proposalsOf(r.json);
      const org = list.find((p: Json) => p.member.startsWith('Organization/'));
      const pro = list.find((p: Json) => p.member.startsWith('PractitionerRole/'));
      assert.ok(org && /séjour en cours/.test(org.source) && org.start === '2023-04-14', JSON.stringify(list));
      assert.ok(pro && /agenda/.test(pro.source), JSON.stringify(list));
      assert.deepEqual(await dumpTables(s.repo), before, 'proposing writes nothing');
      // Accepted: the circle is created with that member, valid against cds-ihe-careteam.
      const team = {
        resourceType: 'CareTeam',
        meta: { profile: [`${CDS}/cds-ihe-careteam`] },
        identifier: [{ system: 'urn:oid:1.2.250.1.71.4.2.99', value: `cercle-${patient}` }],
        status: 'active',
        name: 'Cercle de soins',
        subject: { reference: `Patient/${patient}` },
        period: { start: org.start },
        participant: [{ member: { reference: org.member, display: org.display }, period: { start: org.start } }],
      };
      const created = await http(`${s.base}/CareTeam`, { body: team });
      assert.equal(created.status, 201, created.text.slice(0, 1500));
      const after = proposalsOf((await http(`${s.base}/Patient/${patient}/$circle-proposals`)).json);
      assert.ok(!after.some((p: Json) => p.member === org.member), 'an accepted member is no longer proposed');
      assert.ok(after.some((p: Json) => p.member === pro.member));
      assert.equal((await http(`${s.base}/Patient/unknown-usager/$circle-proposals`)).status, 404);
    });

    it('PA Bundle: the professionals of the projet personnalisé proposed', async () => {
      const patient = await send('Bundle-tddui-pp-pa-bundle-example.json');
      const list = proposalsOf((await http(`${s.base}/Patient/${patient}/$circle-proposals`)).json);
      // The IDE owns PP actions and signed the accord; the PA Bundle gives her no PractitionerRole.
      const ide = list.find((p: Json) => p.member.startsWith('Practitioner/'));
      assert.ok(ide && /projet personnalisé/.test(ide.source) && /situation d’exercice à préciser/.test(ide.role), JSON.stringify(list));
    });
  });
}

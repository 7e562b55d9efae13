// This server as the Gestionnaire of CDS 2.0.1 (cercle de soins) and CdL 3.0.1 (cahier de liaison),
// both IGs loaded in one server, over real HTTP on both databases (issue 14, "What must be shown"):
//   - every official example of both packages: accepted, or refused (422, nothing stored) where
//     the HL7 validator also reports errors (ig-publisher-qa/validation-oo.json), and then a copy
//     corrected exactly as those findings ask is accepted (decisions.md D-55);
//   - the update Bundles the volets define (cds-bundle-transaction-maj, cdl-bundle-maj-note),
//     which no package ships an example of;
//   - every interaction and every search parameter both Gestionnaire CapabilityStatements list,
//     with chains, `_include`, `_revinclude`, vread and history; conditional delete of a note;
//   - bad input refused with an OperationOutcome and nothing stored: a circle for an unknown
//     usager, a note without type, a reply to a note of another usager's notebook;
//   - the same usager across flows: a TDDUI export's Patient found again by INS or by its TDDUI
//     identifier when a circle or a note arrives with its usager.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readEvents } from '../storage/outbox.js';
import { horizonPassed } from '../storage/testing.js';
import { SHARED_FHIR, tdduiExamplesDir } from '../testing/paths.js';
import { dumpTables, http, parseLocation, postgresSkipReason, startTestServer, type DbKind, type TestServer } from '../server/test-support.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const CDS = 'ans.fhir.fr.cds#2.0.1';
const CDL = 'ans.fhir.fr.cdl#3.0.1';
const pkgDir = (pkg: string) => join(SHARED_FHIR, pkg, 'package');
const example = (pkg: string, file: string): Json => JSON.parse(readFileSync(join(pkgDir(pkg), 'example', file), 'utf8'));
const INS = 'urn:oid:1.2.250.1.213.1.4.8';
const NOTE_TYPE = 'https://mos.esante.gouv.fr/NOS/TRE_R234-TypeNote/FHIR/TRE-R234-TypeNote';
const VISIBILITY = 'https://mos.esante.gouv.fr/NOS/TRE_R283-StatutVisibiliteDocument/FHIR/TRE-R283-StatutVisibiliteDocument';
const CDL_NOTE = 'https://interop.esante.gouv.fr/ig/fhir/cdl/StructureDefinition/cdl-document-reference';
const CDS_CARETEAM = 'https://interop.esante.gouv.fr/ig/fhir/cds/StructureDefinition/cds-ihe-careteam';

/** The official examples the HL7 validator reports errors for: refused here too (D-55). */
const REFUSED: Record<string, string> = {
  [`${CDS}/Bundle-cds-bundle-transaction-creation-example.json`]: 'its Patient fails fr-core-patient (birthplace commune code), so entry:patient is missing; RelatedPerson display',
  [`${CDS}/Patient-cds-patient-example.json`]: 'birthplace TRE_R13-Commune#29064 not in fr-core-vs-insee-code (required)',
  [`${CDL}/Bundle-cdl-bundle-creation-note.json`]: 'its Patient (commune code) and PractitionerRole (Annuaire 1.0.1 slicing); here also its narratives without the XHTML namespace',
  [`${CDL}/Patient-0d920958-b596-4b91-af67-9bafc707820b.json`]: 'birthplace TRE_R13-Commune#60500 not in fr-core-vs-insee-code (required)',
};

/**
 * The HL7 validator's findings corrected, and nothing else (D-55): the display it names is used;
 * narratives get their XHTML namespace; in CDS (FR Core 2.1.0, whose INSEE value set holds only
 * the overseas communes of TRE_R13-CommuneOM) the birthplace is a commune of that value set — the
 * profile fr-core-patient-ins requires a birthplace with a code in it. CdL's Patient keeps its
 * commune (FR Core 2.0.1's value set names TRE_R13-Commune, not loaded here: a "not checked" warning).
 */
function corrected(r: Json, pkg: string): Json {
  const c = structuredClone(r);
  const fix = (x: Json) => {
    if (x?.text?.div && !x.text.div.includes('xmlns=')) x.text.div = x.text.div.replace('<div', '<div xmlns="http://www.w3.org/1999/xhtml"');
    for (const e of x?.extension ?? []) {
      if (e.url === 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace' && pkg === CDS) {
        e.valueAddress = { extension: [{ url: 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code', valueCoding: { system: 'https://mos.esante.gouv.fr/NOS/TRE_R13-CommuneOM/FHIR/TRE-R13-CommuneOM', code: '97411' } }], city: 'Saint-Denis' };
      }
    }
    for (const rel of x?.relationship ?? []) for (const cd of rel.coding ?? []) if (cd.code === 'ECON') cd.display = 'personne à prévenir en cas d\'urgence';
  };
  if (c.resourceType === 'Bundle') for (const e of c.entry) fix(e.resource);
  else fix(c);
  return c;
}

function referenceErrors(pkg: string): Set<string> {
  const qa = JSON.parse(readFileSync(join(SHARED_FHIR, pkg, 'ig-publisher-qa', 'validation-oo.json'), 'utf8'));
  const out = new Set<string>();
  for (const e of qa.entry ?? []) for (const i of e.resource?.issue ?? []) if (i.severity === 'error') out.add(/^([A-Z][A-Za-z]+\/[^:]+):/.exec(i.expression?.[0] ?? '')?.[1] ?? '');
  return out;
}

const errorsOf = (r: { json: Json; text: string }) => JSON.stringify((r.json?.issue ?? []).filter((i: Json) => i.severity === 'error').map((i: Json) => [i.expression?.[0], i.diagnostics])).slice(0, 2000) || r.text.slice(0, 500);
const ids = (r: { json: Json }) => (r.json.entry ?? []).filter((e: Json) => e.search?.mode !== 'outcome').map((e: Json) => `${e.resource.resourceType}/${e.resource.id}`);

const skipPg = await postgresSkipReason();

for (const kind of ['embedded', 'postgres'] as DbKind[]) {
  describe(`CDS and CdL Gestionnaire, both IGs loaded (${kind})`, { skip: kind === 'postgres' ? skipPg : undefined, concurrency: false }, () => {
    let s: TestServer;
    const at: Record<string, string> = {}; // stored resources by role
    const get = (url: string) => http(`${s.base}/${url}`);
    const post = (url: string, body: unknown) => http(`${s.base}/${url}`, { body });
    const put = (url: string, body: unknown) => http(`${s.base}/${url}`, { method: 'PUT', body });
    const transaction = (entry: Json[]) => post('', { resourceType: 'Bundle', type: 'transaction', entry });
    const note = (text: string, extra: Json = {}): Json => ({
      resourceType: 'DocumentReference',
      meta: { profile: [CDL_NOTE] },
      status: 'current',
      type: { coding: [{ system: NOTE_TYPE, code: 'DEM-AVIS', display: "Demande d'avis" }] },
      subject: { reference: at.patient },
      date: '2026-12-01T08:30:00+01:00',
      author: [{ reference: at.role }],
      content: [{ attachment: { contentType: 'text/plain', language: 'fr', data: Buffer.from(text).toString('base64') } }],
      ...extra,
    });

    before(async () => {
      s = await startTestServer(kind, { igs: [CDS, CDL] });
    });
    after(() => s?.stop());

    it('refuses, as the HL7 validator does, the official examples it reports errors for; nothing stored', async () => {
      for (const key of Object.keys(REFUSED)) {
        const [pkg, file] = key.split('/') as [string, string];
        const ex = example(pkg, file);
        // Listed here only if the reference validator reports an error on it.
        assert.ok(referenceErrors(pkg).has(`${ex.resourceType}/${ex.id}`), `${key}: no HL7 error reported`);
        const before = await dumpTables(s.repo);
        const r = ex.resourceType === 'Bundle' ? await post('', ex) : await post(ex.resourceType, ex);
        assert.equal(r.status, 422, `${key}: ${r.text.slice(0, 300)}`);
        assert.equal(r.json.resourceType, 'OperationOutcome');
        assert.ok(r.json.issue.some((i: Json) => i.severity === 'error' && i.expression?.length), key);
        assert.deepEqual(await dumpTables(s.repo), before, `${key}: nothing stored`);
      }
    });

    it('accepts every other official example, with its usager (the Patient example as corrected)', async () => {
      const all = [CDS, CDL].flatMap((pkg) =>
        readdirSync(join(pkgDir(pkg), 'example'))
          .filter((f) => f.endsWith('.json') && !f.startsWith('.'))
          .map((f) => ({ key: `${pkg}/${f}`, json: example(pkg, f) })),
      );
      const accepted = all.filter((e) => !REFUSED[e.key]);
      assert.deepEqual(accepted.map((e) => e.key.split('/')[1]).sort(), ['CareTeam-cds-careteam-example.json', 'Organization-cds-organization-example.json', 'RelatedPerson-cds-relatedperson-example.json']);
      // Alone, the circle names a usager this server does not know: refused (D-55).
      const before = await dumpTables(s.repo);
      const alone = await post('CareTeam', example(CDS, 'CareTeam-cds-careteam-example.json'));
      assert.equal(alone.status, 422, alone.text.slice(0, 300));
      assert.ok(alone.json.issue.some((i: Json) => i.expression?.[0] === 'CareTeam.subject' && /n’est pas un usager connu/.test(i.details.text)), alone.text.slice(0, 600));
      assert.deepEqual(await dumpTables(s.repo), before);
      // With its usager, in one transaction: every example stored, references resolved to the new ids.
      const patient = corrected(example(CDS, 'Patient-cds-patient-example.json'), CDS);
      const r = await transaction([patient, ...accepted.map((e) => e.json)].map((res) => ({ fullUrl: `urn:uuid:${crypto.randomUUID()}`, resource: res, request: { method: 'POST', url: res.resourceType } })));
      assert.equal(r.status, 200, errorsOf(r));
      const locs = r.json.entry.map((e: Json) => parseLocation(e.response.location));
      assert.deepEqual(r.json.entry.map((e: Json) => e.response.status), ['201 Created', '201 Created', '201 Created', '201 Created']);
      const [p, team, org, rp] = locs.map((l: Json) => `${l.type}/${l.id}`);
      Object.assign(at, { cdsPatient: p, team, org, rp });
      const stored = (await get(team)).json;
      assert.equal(stored.subject.reference, p);
      assert.deepEqual(stored.participant.map((x: Json) => x.member.reference), [rp, org]);
      assert.equal((await get(rp)).json.patient.reference, p);
    });

    it('accepts the creation Bundles as corrected; the usager they carry is recognised by INS; one circle per usager', async () => {
      // CDS creation Bundle: its Patient carries the INS of the Patient example stored above —
      // the same usager, who already has the circle stored above: refused, nothing stored.
      const before = await dumpTables(s.repo);
      const cds = await post('', corrected(example(CDS, 'Bundle-cds-bundle-transaction-creation-example.json'), CDS));
      assert.equal(cds.status, 422, cds.text.slice(0, 400));
      const one = cds.json.issue.find((i: Json) => i.severity === 'error' && /a déjà un cercle de soins actif/.test(i.details.text));
      assert.ok(one, errorsOf(cds));
      assert.match(one.diagnostics, new RegExp(`${at.cdsPatient}.*${at.team}`));
      assert.equal(one.expression[0], 'Bundle.entry[0].resource');
      assert.deepEqual(await dumpTables(s.repo), before);
      assert.equal((await get(`Patient?identifier=${INS}|123456789012244`)).json.total, 1);
      // (The corrected Bundle is accepted for a usager without a circle: the last test of this file.)
      const byType = (b: Json) => Object.fromEntries(b.json.entry.map((e: Json) => [parseLocation(e.response.location).type, e]));
      // CdL creation Bundle: a note with its author (Practitioner and PractitionerRole) and its usager.
      // Its Patient carries the same INS as CDS's example: the same usager for this server.
      const cdl = await post('', corrected(example(CDL, 'Bundle-cdl-bundle-creation-note.json'), CDL));
      assert.equal(cdl.status, 200, errorsOf(cdl));
      const n = byType(cdl);
      assert.equal(n.Patient.response.status, '200 OK');
      assert.deepEqual([n.DocumentReference, n.PractitionerRole, n.Practitioner].map((e) => e.response.status), ['201 Created', '201 Created', '201 Created']);
      at.patient = at.cdsPatient;
      at.note1 = `DocumentReference/${parseLocation(n.DocumentReference.response.location).id}`;
      at.role = `PractitionerRole/${parseLocation(n.PractitionerRole.response.location).id}`;
      at.practitioner = `Practitioner/${parseLocation(n.Practitioner.response.location).id}`;
      const stored = (await get(at.note1)).json;
      assert.equal(stored.subject.reference, at.patient);
      assert.deepEqual(stored.author.map((a: Json) => a.reference), [at.practitioner, at.role]);
    });

    it('the CDS update Bundle (cds-bundle-transaction-maj): a member leaves, a new one joins, the related person is corrected', async () => {
      const team = (await get(at.team)).json;
      const rp = (await get(at.rp)).json;
      team.participant[0].period.end = '2026-11-30';
      team.participant.push({ member: { reference: 'urn:uuid:5f0e1a43-0000-4000-8000-000000000001' }, period: { start: '2026-12-01' } });
      const bundle = {
        resourceType: 'Bundle',
        meta: { profile: ['https://interop.esante.gouv.fr/ig/fhir/cds/StructureDefinition/cds-bundle-transaction-maj'] },
        type: 'transaction',
        entry: [
          { fullUrl: `${s.base}/${at.team}`, resource: team, request: { method: 'PUT', url: at.team } },
          { fullUrl: `${s.base}/${at.rp}`, resource: { ...rp, telecom: [{ system: 'phone', value: '0611111111' }] }, request: { method: 'PUT', url: at.rp } },
          {
            fullUrl: 'urn:uuid:5f0e1a43-0000-4000-8000-000000000001',
            resource: { ...example(CDS, 'Organization-cds-organization-example.json'), id: undefined, name: 'SSIAD du Pays de Rennes' },
            request: { method: 'POST', url: 'Organization' },
          },
        ],
      };
      const r = await post('', bundle);
      assert.equal(r.status, 200, errorsOf(r));
      assert.deepEqual(r.json.entry.map((e: Json) => e.response.status), ['200 OK', '200 OK', '201 Created']);
      at.org2 = `Organization/${parseLocation(r.json.entry[2].response.location).id}`;
      const v2 = (await get(at.team)).json;
      assert.equal(v2.meta.versionId, '2');
      assert.deepEqual(v2.participant.map((p: Json) => [p.member.reference, p.period.end ?? null]), [[at.rp, '2026-11-30'], [at.org, '2032-12-18T13:48:19.342+01:00'], [at.org2, null]]);
      // The volet's 500 for a failed transaction is the FHIR 4xx here (D-55): one bad entry, nothing written.
      const before = await dumpTables(s.repo);
      const bad = await post('', { ...bundle, entry: [bundle.entry[0], { ...bundle.entry[1], resource: { ...rp, patient: { reference: 'Patient/nobody' }, relationship: 'x' } }] });
      assert.equal(bad.status, 422);
      assert.deepEqual(await dumpTables(s.repo), before);
    });

    it('the CdL update Bundle (cdl-bundle-maj-note): a note corrected, then withdrawn (entered-in-error)', async () => {
      const current = (await get(at.note1)).json;
      const fixedText = Buffer.from('Maman est fatiguée. Elle n’a pas voulu sortir ce matin (corrigé).').toString('base64');
      const bundle = (res: Json) => ({
        resourceType: 'Bundle',
        meta: { profile: ['https://interop.esante.gouv.fr/ig/fhir/cdl/StructureDefinition/cdl-bundle-maj-note'] },
        type: 'transaction',
        entry: [{ fullUrl: `${s.base}/${at.note1}`, resource: res, request: { method: 'PUT', url: at.note1 } }],
      });
      const r = await post('', bundle({ ...current, content: [{ attachment: { ...current.content[0].attachment, data: fixedText } }] }));
      assert.equal(r.status, 200, errorsOf(r));
      assert.equal(r.json.entry[0].response.status, '200 OK');
      const v2 = (await get(at.note1)).json;
      assert.equal(v2.meta.versionId, '2');
      assert.equal(v2.content[0].attachment.data, fixedText);
      // A POST in the update Bundle is refused (its DocumentReference entry is a PUT).
      const wrong = await post('', { ...bundle(v2), entry: [{ ...bundle(v2).entry[0], request: { method: 'POST', url: 'DocumentReference' } }] });
      assert.equal(wrong.status, 422, wrong.text.slice(0, 300));
      const w = await post('', bundle({ ...v2, status: 'entered-in-error' }));
      assert.equal(w.status, 200, errorsOf(w));
      assert.equal((await get(at.note1)).json.status, 'entered-in-error');
      // Both versions stay readable (vread, history).
      assert.equal((await get(`${at.note1}/_history/1`)).json.status, 'current');
      assert.equal((await get(`${at.note1}/_history`)).json.total, 3);
    });

    it('every interaction of the CDS Gestionnaire on CareTeam (create, read, update, vread, history) and of both on their other types', async () => {
      // CareTeam: create, read, vread, update, history-instance, history-type.
      const c = await post('CareTeam', {
        resourceType: 'CareTeam',
        meta: { profile: [CDS_CARETEAM] },
        identifier: [{ system: 'urn:ietf:rfc:3986', value: 'urn:uuid:4a1b6c3e-1111-4222-8333-944455556666' }],
        status: 'proposed',
        name: 'Cercle proposé',
        subject: { reference: at.patient },
        period: { start: '2026-12-02' },
        participant: [{ member: { reference: at.role }, period: { start: '2026-12-02' } }],
      });
      assert.equal(c.status, 201, errorsOf(c));
      const id = `CareTeam/${c.json.id}`;
      assert.equal((await get(id)).json.status, 'proposed');
      const u = await put(id, { ...c.json, status: 'inactive' });
      assert.equal(u.status, 200, errorsOf(u));
      assert.equal((await get(`${id}/_history/1`)).json.status, 'proposed');
      assert.equal((await get(`${id}/_history/2`)).json.status, 'inactive');
      const h = await get(`${id}/_history`);
      assert.deepEqual(h.json.entry.map((e: Json) => e.resource.meta.versionId), ['2', '1']);
      const ht = await get('CareTeam/_history');
      assert.equal(ht.status, 200);
      assert.ok(ht.json.entry.some((e: Json) => e.fullUrl.endsWith(id) || `${e.resource.resourceType}/${e.resource.id}` === id));
      // Patient, RelatedPerson, Practitioner, PractitionerRole, Organization, Device: create, read, update (CDS and CdL list them).
      const resources: Json[] = [
        { resourceType: 'Patient', identifier: [{ system: 'urn:oid:1.2.250.1.71.4.2.7', value: 'LOCAL-42' }], name: [{ family: 'Lefèvre', given: ['Anne'] }], gender: 'female', birthDate: '1931-07-14' },
        { ...example(CDS, 'RelatedPerson-cds-relatedperson-example.json'), id: undefined, text: undefined, patient: { reference: at.patient }, name: [{ family: 'Lefèvre', given: ['Paul'] }], relationship: [{ coding: [{ system: 'https://mos.esante.gouv.fr/NOS/TRE_R260-HL7RoleClass/FHIR/TRE-R260-HL7RoleClass', code: 'ECON', display: 'personne à prévenir en cas d\'urgence' }] }] },
        { resourceType: 'Practitioner', identifier: [{ type: { coding: [{ system: 'https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203', code: 'IDNPS' }] }, system: 'urn:oid:1.2.250.1.71.4.2.1', value: '810002909371' }], name: [{ family: 'Durand', given: ['Claire'] }] },
        { resourceType: 'PractitionerRole', active: true, practitioner: { reference: at.practitioner } },
        { resourceType: 'Organization', name: 'EHPAD Les Tilleuls', identifier: [{ system: 'urn:oid:1.2.250.1.71.4.2.2', value: '1350000001' }] },
        { resourceType: 'Device', identifier: [{ system: 'urn:oid:1.2.250.1.999', value: 'dui-42' }], deviceName: [{ name: 'DUI Exemple', type: 'user-friendly-name' }] },
      ];
      for (const res of resources) {
        const cr = await post(res.resourceType, res);
        assert.equal(cr.status, 201, `${res.resourceType}: ${errorsOf(cr)}`);
        const key = `${res.resourceType}/${cr.json.id}`;
        at[`new${res.resourceType}`] = key;
        assert.equal((await get(key)).status, 200);
        const up = await put(key, { ...cr.json, active: res.resourceType === 'Device' ? undefined : true });
        assert.equal(up.status, 200, `${res.resourceType} update: ${errorsOf(up)}`);
      }
      // Conditional delete of a note on its identifier (CdL: conditionalDelete single).
      const n = await post('DocumentReference', note('À supprimer', { identifier: [{ system: 'urn:ietf:rfc:3986', value: 'urn:uuid:0b7f0d7e-aaaa-4bbb-8ccc-ddddeeeeffff' }] }));
      assert.equal(n.status, 201, errorsOf(n));
      const del = await http(`${s.base}/DocumentReference?identifier=urn:ietf:rfc:3986|urn:uuid:0b7f0d7e-aaaa-4bbb-8ccc-ddddeeeeffff`, { method: 'DELETE' });
      assert.ok([200, 204].includes(del.status), del.text.slice(0, 300));
      assert.equal((await get(`DocumentReference/${n.json.id}`)).status, 410);
      // Several matches: single means refused (412), nothing deleted.
      for (const t of ['un', 'deux']) assert.equal((await post('DocumentReference', note(t, { identifier: [{ system: 'urn:ietf:rfc:3986', value: 'urn:uuid:0b7f0d7e-aaaa-4bbb-8ccc-000000000002' }] }))).status, 201);
      const before = await dumpTables(s.repo);
      const many = await http(`${s.base}/DocumentReference?identifier=urn:ietf:rfc:3986|urn:uuid:0b7f0d7e-aaaa-4bbb-8ccc-000000000002`, { method: 'DELETE' });
      assert.equal(many.status, 412, many.text.slice(0, 300));
      assert.deepEqual(await dumpTables(s.repo), before);
    });

    it('every search parameter of both Gestionnaires finds the stored resource, and a wrong value finds nothing', async () => {
      // A reply and a note with a visibility label and an emergency flag, to search on.
      const hidden = await post('DocumentReference', note('Entretien famille', { date: '2026-12-03T10:00:00+01:00', securityLabel: [{ coding: [{ system: VISIBILITY, code: 'INVISIBLE_REPRESENTANTS_LEGAUX' }] }] }));
      assert.equal(hidden.status, 201, errorsOf(hidden));
      at.note2 = `DocumentReference/${hidden.json.id}`;
      const listed = new Map<string, Set<string>>();
      for (const pkg of [CDS, CDL]) {
        for (const f of readdirSync(pkgDir(pkg)).filter((x) => x.startsWith('CapabilityStatement-'))) {
          const cs = JSON.parse(readFileSync(join(pkgDir(pkg), f), 'utf8'));
          for (const rest of cs.rest ?? []) {
            if (rest.mode !== 'server') continue;
            for (const r of rest.resource ?? []) for (const sp of r.searchParam ?? []) listed.set(r.type, (listed.get(r.type) ?? new Set()).add(sp.name));
          }
        }
      }
      // One query per listed parameter: [query that must find `target`, query that must not].
      const team = at.team;
      const pid = at.patient.split('/')[1];
      const queries: Record<string, Record<string, [string, string, string]>> = {
        CareTeam: {
          identifier: [team, 'identifier=http://fake-identifier.fr|1', 'identifier=http://fake-identifier.fr|2'],
          start: [team, 'start=2013-01-12', 'start=2014-01-01'],
          end: [at.team, '', ''], // set below: the circle that ended
          status: [team, 'status=active', 'status=suspended'],
          _lastUpdated: [team, `_lastUpdated=ge2020-01-01`, '_lastUpdated=lt2000-01-01'],
          category: [at.newCareTeamCat ?? '', '', ''],
          'participant-start': [team, 'participant-start=2026-12-01', 'participant-start=1999-01-01'],
          'participant-end': [team, 'participant-end=2026-11-30', 'participant-end=1999-01-01'],
          date: [team, 'date=ge2013-01-12', 'date=lt2000-01-01'],
          participant: [team, `participant=${at.org2}`, `participant=${at.newOrganization}`],
          patient: [team, `patient=${at.patient}`, `patient=${at.newPatient}`],
          subject: [team, `subject=${at.patient}`, `subject=${at.newPatient}`],
          managingOrganization: [team, `managingOrganization=${at.org}`, `managingOrganization=${at.org2}`],
        },
        Patient: {
          identifier: [at.patient, `identifier=${INS}|123456789012244`, `identifier=${INS}|123456789012245`],
          family: [at.patient, 'family=Thobois', 'family=Thibault'],
          given: [at.patient, 'given=Jacques', 'given=Jacqueline'],
          name: [at.patient, 'name=thob', 'name=zzz'],
          address: [at.newPatient, '', ''],
          birthdate: [at.patient, 'birthdate=1984-10-02', 'birthdate=1984-10-03'],
          gender: [at.patient, 'gender=male', 'gender=other'],
          birthplace: [at.newPatient, '', ''],
        },
        RelatedPerson: {
          _id: [at.rp, `_id=${at.rp.split('/')[1]}`, '_id=nope'],
          identifier: [at.rp, 'identifier=https://fake-system|id-relatedPerson-12', 'identifier=https://fake-system|13'],
          name: [at.rp, 'name=Lamine', 'name=Zorro'],
          relationship: [at.rp, 'relationship=NBOR', 'relationship=FTH'],
        },
        Practitioner: {
          identifier: [at.newPractitioner, 'identifier=urn:oid:1.2.250.1.71.4.2.1|810002909371', 'identifier=urn:oid:1.2.250.1.71.4.2.1|1'],
          name: [at.practitioner, 'name=Brooks', 'name=Zorro'],
          family: [at.practitioner, 'family=Brooks', 'family=Zorro'],
          given: [at.practitioner, 'given=Sophie', 'given=Zoé'],
        },
        PractitionerRole: {
          _id: [at.role, `_id=${at.role.split('/')[1]}`, '_id=nope'],
          practitioner: [at.role, `practitioner=${at.practitioner}`, `practitioner=${at.newPractitioner}`],
          role: [at.role, 'role=60', 'role=10'],
        },
        Organization: {
          _id: [at.org, `_id=${at.org.split('/')[1]}`, '_id=nope'],
          identifier: [at.newOrganization, 'identifier=urn:oid:1.2.250.1.71.4.2.2|1350000001', 'identifier=urn:oid:1.2.250.1.71.4.2.2|1'],
          name: [at.org, 'name=Cabinet', 'name=Clinique'],
        },
        Device: { identifier: [at.newDevice, 'identifier=urn:oid:1.2.250.1.999|dui-42', 'identifier=urn:oid:1.2.250.1.999|dui-43'] },
        DocumentReference: {
          date: [at.note2, 'date=2026-12-03', 'date=2026-12-04'],
          type: [at.note2, `type=${NOTE_TYPE}|DEM-AVIS`, `type=${NOTE_TYPE}|INFO`],
          'security-label': [at.note2, 'security-label=INVISIBLE_REPRESENTANTS_LEGAUX', 'security-label=MASQUE_PS'],
        },
      };
      // CareTeam.category and Patient.address: the stored examples carry none; give them one.
      const cat = await post('CareTeam', {
        resourceType: 'CareTeam',
        meta: { profile: [CDS_CARETEAM] },
        identifier: [{ system: 'urn:ietf:rfc:3986', value: 'urn:uuid:4a1b6c3e-1111-4222-8333-944455550000' }],
        status: 'inactive',
        name: 'Ancien cercle',
        category: [{ coding: [{ system: 'http://loinc.org', code: 'LA27976-2', display: 'Coordination of care' }] }],
        subject: { reference: at.patient },
        period: { start: '2020-01-01', end: '2020-12-31' },
        participant: [{ member: { reference: at.role }, period: { start: '2020-01-01' } }],
      });
      assert.equal(cat.status, 201, errorsOf(cat));
      queries.CareTeam!.category = [`CareTeam/${cat.json.id}`, 'category=http://loinc.org|LA27976-2', 'category=http://loinc.org|LA28865-6'];
      queries.CareTeam!.end = [`CareTeam/${cat.json.id}`, 'end=2020-12-31', 'end=ge2021-01-01'];
      const np = (await get(at.newPatient)).json;
      assert.equal((await put(at.newPatient, { ...np, address: [{ line: ['3 rue des Lilas'], city: 'Rennes', postalCode: '35000' }] })).status, 200);
      queries.Patient!.address = [at.newPatient, 'address=Rennes', 'address=Brest'];
queries.Patient!.birthplace = [at.patient, 'birthplace=Saint-Denis', 'birthplace=Brest'];
      let checked = 0;
      for (const [type, names] of listed) {
        for (const name of names) {
          const q = queries[type]?.[name];
          assert.ok(q, `${type}?${name}: listed by a Gestionnaire, no query in this test`);
          const [target, yes, no] = q;
          const hit = await get(`${type}?${yes}&_count=200`);
          assert.equal(hit.status, 200, `${type}?${yes}: ${hit.text.slice(0, 300)}`);
          assert.ok(ids(hit).includes(target), `${type}?${yes} finds ${target}: ${ids(hit).join(' ')}`);
          const miss = await get(`${type}?${no}&_id=${target.split('/')[1]}`);
          assert.equal(miss.status, 200, `${type}?${no}: ${miss.text.slice(0, 300)}`);
          assert.deepEqual(ids(miss), [], `${type}?${no} must not find ${target}`);
          checked++;
        }
      }
      assert.equal(checked, 39, "every parameter listed by the two Gestionnaires (13 CareTeam, 8 Patient, 4 RelatedPerson, 4 Practitioner, 3 PractitionerRole, 3 Organization, 1 Device, 3 DocumentReference)");
      void pid;
    });

    it('chains, _include and _revinclude of the notebook and the circle', async () => {
      // The CdL searches: patient, author chains, _include of subject and author.
      const byPatient = await get(`DocumentReference?patient=${at.patient}&_count=100`);
      assert.ok(ids(byPatient).includes(at.note2));
      const chain = await get(`DocumentReference?subject:Patient.identifier=${INS}|123456789012244&author:Practitioner.family=Brooks`);
      assert.equal(chain.status, 200, chain.text.slice(0, 300));
      assert.ok(ids(chain).includes(at.note1), ids(chain).join(' '));
      const chain2 = await get('DocumentReference?author:PractitionerRole.practitioner.name=Brooks');
      assert.ok(ids(chain2).includes(at.note2), ids(chain2).join(' '));
      assert.deepEqual(ids(await get('DocumentReference?author:Practitioner.family=Zorro')), []);
      const inc = await get(`${at.note2.replace('/', '?_id=')}&_include=DocumentReference:subject&_include=DocumentReference:author`);
      assert.deepEqual(ids(inc).sort(), [at.note2, at.patient, at.role].sort());
      assert.deepEqual(inc.json.entry.filter((e: Json) => e.search.mode === 'include').length, 2);
      const rev = await get(`Patient?_id=${at.patient.split('/')[1]}&_revinclude=CareTeam:subject&_revinclude=DocumentReference:subject`);
      assert.ok(ids(rev).includes(at.team) && ids(rev).includes(at.note2));
      const teamInc = await get(`CareTeam?_id=${at.team.split('/')[1]}&_include=CareTeam:participant&_include=CareTeam:subject`);
      assert.deepEqual(ids(teamInc).sort(), [at.team, at.patient, at.rp, at.org, at.org2].sort());
      const careChain = await get(`CareTeam?patient.identifier=${INS}|123456789012244&status=active`);
      assert.deepEqual(ids(careChain), [at.team]);
    });

    it('refuses bad input with a clear OperationOutcome, nothing stored', async () => {
      const cases: [string, () => Promise<{ status: number; json: Json; text: string }>, RegExp, string][] = [
        [
          'a circle for an unknown usager',
          () => post('CareTeam', { resourceType: 'CareTeam', meta: { profile: [CDS_CARETEAM] }, status: 'active', subject: { reference: 'Patient/inconnu' }, participant: [{ member: { reference: at.role } }] }),
          /Patient\/inconnu n’est pas un usager connu/,
          'CareTeam.subject',
        ],
        ['a note without type', () => post('DocumentReference', { ...note('Sans type'), type: undefined }), /type/, 'DocumentReference'],
        ['a note about an unknown usager', () => post('DocumentReference', note('x', { subject: { reference: 'Patient/inconnu' } })), /n’est pas un usager connu/, 'DocumentReference.subject'],
        [
          'a reply to a note of another usager',
          () => post('DocumentReference', note('Réponse égarée', { subject: { reference: at.newPatient }, relatesTo: [{ code: 'appends', target: { reference: at.note2 } }] })),
          /appartient au cahier de liaison d’un autre usager/,
          'DocumentReference.relatesTo[0].target',
        ],
        [
          'a reply to a note that does not exist',
          () => post('DocumentReference', note('Réponse', { relatesTo: [{ code: 'appends', target: { reference: 'DocumentReference/nulle-part' } }] })),
          /n’est pas enregistrée/,
          'DocumentReference.relatesTo[0].target',
        ],
        [
          'the same reply in a transaction (the Bundle\'s usager is another one)',
          () => transaction([{ fullUrl: 'urn:uuid:9d0c1e5a-0000-4000-8000-00000000000a', resource: note('Réponse', { subject: { reference: at.newPatient }, relatesTo: [{ code: 'appends', target: { reference: at.note2 } }] }), request: { method: 'POST', url: 'DocumentReference' } }]),
          /autre usager/,
          'Bundle.entry[0].resource.relatesTo[0].target',
        ],
      ];
      for (const [what, send, text, where] of cases) {
        const before = await dumpTables(s.repo);
        const r = await send();
        assert.equal(r.status, 422, `${what}: ${r.text.slice(0, 400)}`);
        const err = r.json.issue.find((i: Json) => i.severity === 'error' && text.test(`${i.details?.text} ${i.diagnostics}`));
        assert.ok(err, `${what}: ${errorsOf(r)}`);
        assert.ok(err.expression?.[0]?.startsWith(where), `${what}: at ${err.expression?.[0]}`);
        assert.ok(err.diagnostics && err.details.text, `${what}: English and French`);
        assert.deepEqual(await dumpTables(s.repo), before, `${what}: nothing stored`);
      }
      // A reply within the same notebook is accepted, threaded by relatesTo.
      const ok = await post('DocumentReference', note('Vu, je passe demain.', { relatesTo: [{ code: 'appends', target: { reference: at.note2 } }] }));
      assert.equal(ok.status, 201, errorsOf(ok));
    });

    it('members added to and removed from a circle are events of the outbox (issue 15), in the same write', async () => {
      const p = await post('Patient', { resourceType: 'Patient', name: [{ family: 'Evenement', given: ['Eva'] }], gender: 'female', birthDate: '1950-01-01' });
      assert.equal(p.status, 201, errorsOf(p));
      const patient = `Patient/${p.json.id}`;
      const events = async () => (await horizonPassed(s.repo.db), await readEvents(s.repo.db, undefined, 100, { patient })).map((e) => `${e.type.code} ${(e.detail as Json)?.member}`);
      const c = await post('CareTeam', {
        resourceType: 'CareTeam',
        meta: { profile: [CDS_CARETEAM] },
        identifier: [{ system: 'urn:ietf:rfc:3986', value: `urn:uuid:${crypto.randomUUID()}` }],
        status: 'active',
        name: 'Cercle d’Eva Evenement',
        subject: { reference: patient },
        period: { start: '2026-01-01' },
        participant: [
          { member: { reference: at.role }, period: { start: '2026-01-01' } },
          { member: { reference: at.rp }, period: { start: '2026-01-01' } },
          { member: { reference: at.org }, period: { start: '2099-01-01' } },
        ],
      });
      assert.equal(c.status, 201, errorsOf(c));
      assert.deepEqual(await events(), [`circle-member-added ${at.role}`, `circle-member-added ${at.rp}`]);
      // The related person leaves; then returns (a new participant entry).
      const v1 = c.json;
      v1.participant[1].period.end = '2026-06-30';
      const u = await put(`CareTeam/${v1.id}`, v1);
      assert.equal(u.status, 200, errorsOf(u));
      assert.deepEqual((await events()).slice(2), [`circle-member-removed ${at.rp}`]);
      const v2 = u.json;
      v2.participant.push({ member: { reference: at.rp }, period: { start: '2026-07-01' } });
      assert.equal((await put(`CareTeam/${v1.id}`, v2)).status, 200);
      assert.deepEqual((await events()).slice(3), [`circle-member-added ${at.rp}`]);
      // An update that changes no membership declares nothing; a circle withdrawn removes everyone.
      const v3 = (await get(`CareTeam/${v1.id}`)).json;
      assert.equal((await put(`CareTeam/${v1.id}`, { ...v3, name: 'Cercle d’Eva' })).status, 200);
      assert.equal((await events()).length, 4);
      assert.equal((await put(`CareTeam/${v1.id}`, { ...v3, status: 'inactive' })).status, 200);
      assert.deepEqual((await events()).slice(4).sort(), [`circle-member-removed ${at.role}`, `circle-member-removed ${at.rp}`]);
      // A refused write declares nothing.
      assert.equal((await post('CareTeam', { ...c.json, id: undefined, subject: { reference: 'Patient/inconnu' } })).status, 422);
      assert.equal((await events()).length, 6);
    });

    it('the same usager across flows: a TDDUI export, then a circle and a note, find one Patient (INS, then TDDUI identifier)', async () => {
      const ssiad = JSON.parse(readFileSync(join(tdduiExamplesDir('2.3.0'), 'Bundle-tddui-bundle-example.json'), 'utf8'));
      const t = await post('', ssiad);
      assert.equal(t.status, 200, errorsOf(t));
      const tp = t.json.entry.map((e: Json) => e.response.location).find((l: string) => l.startsWith('Patient/'));
      const tdduiPatient = `Patient/${parseLocation(tp).id}`;
      const tdduiIds = (await get(tdduiPatient)).json.identifier;
      const insOf = tdduiIds.find((i: Json) => i.system === INS);
      const piOf = tdduiIds.find((i: Json) => i.system === 'https://identifiant-medicosocial-localusager.esante.gouv.fr');
      // A CdL creation Bundle whose usager carries the TDDUI usager's INS: the note is about the TDDUI Patient.
      const cdl = corrected(example(CDL, 'Bundle-cdl-bundle-creation-note.json'), CDL);
      const pEntry = cdl.entry.find((e: Json) => e.resource.resourceType === 'Patient');
      pEntry.resource.identifier[0].value = insOf.value;
      const r = await post('', cdl);
      assert.equal(r.status, 200, errorsOf(r));
      const pe = r.json.entry[cdl.entry.indexOf(pEntry)];
      assert.equal(pe.response.status, '200 OK');
      const noteLoc = r.json.entry.map((e: Json) => e.response.location).find((l: string) => l.startsWith('DocumentReference/'));
      assert.equal((await get(`DocumentReference/${parseLocation(noteLoc).id}`)).json.subject.reference, tdduiPatient);
      // The TDDUI Patient is not rewritten by the CdL flow (still its TDDUI version).
      assert.equal((await get(tdduiPatient)).json.meta.versionId, '1');
      // A CDS creation Bundle whose usager has no INS but the TDDUI local identifier: the same Patient.
      const cds = corrected(example(CDS, 'Bundle-cds-bundle-transaction-creation-example.json'), CDS);
      const cp = cds.entry.find((e: Json) => e.resource.resourceType === 'Patient').resource;
      cp.meta = { profile: ['https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient'] };
      cp.identifier = [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'PI' }] }, system: piOf.system, value: piOf.value }];
      delete cp.extension;
      const c = await post('', cds);
      assert.equal(c.status, 200, errorsOf(c));
      const teamLoc = c.json.entry.map((e: Json) => e.response.location).find((l: string) => l.startsWith('CareTeam/'));
      assert.equal((await get(`CareTeam/${parseLocation(teamLoc).id}`)).json.subject.reference, tdduiPatient);
      assert.equal((await get(`Patient?identifier=${INS}|${insOf.value}`)).json.total, 1);
      // A usager nobody knows yet is created (and then known).
      cp.identifier[0].value = '3480787529/999999999';
      const fresh = await post('', cds);
      assert.equal(fresh.status, 200, errorsOf(fresh));
      assert.equal(fresh.json.entry.find((e: Json) => e.response.location.startsWith('Patient/')).response.status, '201 Created');
    });
  });
}

// Access to a usager's liaison notebook and circle of care restricted to the circle (issue 14,
// seed rule 1.1.11), over real HTTP on both databases with real signed tokens (SMART `fhirUser`):
// a member with the usager's consent reads and writes; a member without consent, a non-member, a
// former member and a role a note's visibility hides are refused (403), and neither search totals,
// `_include`/`_revinclude` nor history reveal anything; when a member's period ends, the next
// request is refused. The usager alone manages the consents.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { dumpTables, http, postgresSkipReason, signedTokens, startTestServer, type DbKind, type SignedTokens, type TestServer } from '../server/test-support.js';
import { RESOURCE_TYPES_SYSTEM } from './circle-access.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const ISSUER = 'https://auth.example.test/realms/coordination';
const CDS = 'https://interop.esante.gouv.fr/ig/fhir/cds/StructureDefinition';
const CDL = 'https://interop.esante.gouv.fr/ig/fhir/cdl/StructureDefinition';

const skipPg = await postgresSkipReason();

for (const kind of ['embedded', 'postgres'] as DbKind[]) {
  describe(`circle of care access (${kind})`, { skip: kind === 'postgres' ? skipPg : undefined, concurrency: false }, () => {
    let s: TestServer;
    let tokens: SignedTokens;
    const ids: Record<string, string> = {};
    const as = async (fhirUser: string | undefined, claims: Record<string, unknown> = {}) => {
      const jwt = await tokens.sign({ scope: 'user/*.*', ...(fhirUser ? { fhirUser } : {}), ...claims, sub: fhirUser ?? 'system' });
      return { authorization: `Bearer ${jwt}` };
    };
    const call = async (who: string, url: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) =>
      http(`${s.base}/${url}`, { ...init, headers: { ...(init.headers ?? {}), ...(await as(who)) } });
    const usager = () => `Patient/${ids.u}`;
    const note = (text: string, author: string, label?: string): Json => ({
      resourceType: 'DocumentReference',
      meta: { profile: [`${CDL}/cdl-document-reference`] },
      status: 'current',
      type: { coding: [{ system: 'https://mos.esante.gouv.fr/NOS/TRE_R234-TypeNote/FHIR/TRE-R234-TypeNote', code: 'DEM-AVIS', display: "Demande d'avis" }] },
      subject: { reference: usager() },
      date: '2026-12-01T08:30:00+01:00',
      author: [{ reference: author }],
      ...(label ? { securityLabel: [{ coding: [{ system: 'https://mos.esante.gouv.fr/NOS/TRE_R283-StatutVisibiliteDocument/FHIR/TRE-R283-StatutVisibiliteDocument', code: label }] }] } : {}),
      content: [{ attachment: { contentType: 'text/plain', language: 'fr', data: Buffer.from(text).toString('base64') } }],
    });
    const consent = (actor: string, blocks: string[]): Json => ({
      resourceType: 'Consent',
      status: 'active',
      scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
      category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
      patient: { reference: usager() },
      policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] },
      provision: { type: 'permit', actor: [{ role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }] }, reference: { reference: actor } }], class: blocks.map((code) => ({ system: RESOURCE_TYPES_SYSTEM, code })) },
    });
    const total = async (who: string, url: string) => {
      const r = await call(who, url);
      assert.equal(r.status, 200, r.text.slice(0, 400));
      return { total: r.json.total as number, ids: (r.json.entry ?? []).filter((e: Json) => e.search?.mode !== 'outcome').map((e: Json) => `${e.resource.resourceType}/${e.resource.id}`) };
    };

    before(async () => {
      tokens = await signedTokens({ issuer: ISSUER });
      s = await startTestServer(kind, { igs: ['ans.fhir.fr.cds#2.0.1', 'ans.fhir.fr.cdl#3.0.1'], auth: tokens.auth });
      // The directory: the usager and the persons around them (as a DUI and the Annuaire would have them).
      const put = async (r: Json) => (await s.repo.create(r)).id;
      ids.u = await put({ resourceType: 'Patient', name: [{ family: 'Martin', given: ['Jeanne'] }], gender: 'female', birthDate: '1940-02-03' });
      ids.other = await put({ resourceType: 'Patient', name: [{ family: 'Durand', given: ['Paul'] }], gender: 'male', birthDate: '1938-05-06' });
      for (const p of ['a', 'b', 'c', 'd']) ids[p] = await put({ resourceType: 'Practitioner', name: [{ family: `Docteur ${p.toUpperCase()}` }] });
      // CDS's circle names professionals by their PractitionerRole (their situation of practice).
      for (const p of ['a', 'b', 'c', 'd']) ids[`r${p}`] = await put({ resourceType: 'PractitionerRole', active: true, practitioner: { reference: `Practitioner/${ids[p]}` } });
      ids.r = await put({ resourceType: 'RelatedPerson', patient: { reference: `Patient/${ids.u}` }, name: [{ family: 'Martin', given: ['Luc'] }] });
    });
    after(() => s?.stop());

    it('the usager sets up their circle and their consents; nobody else manages consents', async () => {
      const yesterday = new Date(Date.now() - 86_400_000).toISOString();
      const team = {
        resourceType: 'CareTeam',
        meta: { profile: [`${CDS}/cds-ihe-careteam`] },
        identifier: [{ system: 'urn:oid:1.2.250.1.71.4.2.99', value: `cercle-${kind}` }],
        status: 'active',
        name: 'Cercle de Jeanne Martin',
        subject: { reference: usager() },
        period: { start: '2026-01-05' },
        participant: [
          { member: { reference: `PractitionerRole/${ids.ra}` }, period: { start: '2026-01-05' } },
          { member: { reference: `PractitionerRole/${ids.rb}` }, period: { start: '2026-01-05' } },
          { member: { reference: `RelatedPerson/${ids.r}` }, period: { start: '2026-01-05' } },
          { member: { reference: `PractitionerRole/${ids.rd}` }, period: { start: '2026-01-05', end: yesterday } },
        ],
      };
      const created = await call(usager(), 'CareTeam', { body: team });
      assert.equal(created.status, 201, JSON.stringify(created.json?.issue?.filter((i: Json) => i.severity === "error")));
      ids.team = created.json.id;
      for (const [actor, blocks] of [[`PractitionerRole/${ids.ra}`, ['DocumentReference', 'CareTeam']], [`RelatedPerson/${ids.r}`, ['DocumentReference']], [`PractitionerRole/${ids.rd}`, ['DocumentReference', 'CareTeam']]] as const) {
        const r = await call(usager(), 'Consent', { body: consent(actor, [...blocks]) });
        assert.equal(r.status, 201, r.text.slice(0, 1500));
      }
      // A member cannot give themself (or anyone) access: only the usager manages consents.
      const before = await dumpTables(s.repo);
      const byB = await call(`Practitioner/${ids.b}`, 'Consent', { body: consent(`PractitionerRole/${ids.rb}`, ['DocumentReference']) });
      assert.equal(byB.status, 403);
      assert.equal(byB.json.issue[0].code, 'forbidden');
      assert.match(byB.json.issue[0].details.text, /Seul l’usager gère ses consentements/);
      assert.deepEqual(await dumpTables(s.repo), before);
    });

    it('a member with consent writes and reads notes, and reads the circle', async () => {
      const a = `Practitioner/${ids.a}`;
      const w = await call(a, 'DocumentReference', { body: note('Jeanne a bien dormi.', `PractitionerRole/${ids.ra}`) });
      assert.equal(w.status, 201, w.text.slice(0, 1500));
      ids.n1 = w.json.id;
      const hidden = await call(a, 'DocumentReference', { body: note('Entretien avec la famille à prévoir.', `PractitionerRole/${ids.ra}`, 'INVISIBLE_REPRESENTANTS_LEGAUX') });
      assert.equal(hidden.status, 201, hidden.text.slice(0, 1500));
      ids.n2 = hidden.json.id;
      assert.equal((await call(a, `DocumentReference/${ids.n1}`)).status, 200);
      assert.deepEqual((await total(a, `DocumentReference?patient=${usager()}`)).total, 2);
      assert.equal((await call(a, `CareTeam/${ids.team}`)).status, 200);
      assert.equal((await call(a, `DocumentReference/${ids.n1}/_history`)).status, 200);
    });

    it('a member without consent, a non-member and a former member: 403, and searches count nothing', async () => {
      for (const [who, reason] of [
        [`Practitioner/${ids.b}`, /n’a pas autorisé/],
        [`Practitioner/${ids.c}`, /n’est pas membre actif/],
        [`Practitioner/${ids.d}`, /a quitté le cercle/],
      ] as const) {
        const r = await call(who, `DocumentReference/${ids.n1}`);
        assert.equal(r.status, 403, `${who}: ${r.text.slice(0, 300)}`);
        assert.match(r.json.issue[0].details.text, reason);
        assert.equal((await call(who, `DocumentReference/${ids.n1}/_history/1`)).status, 403);
        assert.equal((await call(who, `DocumentReference/${ids.n1}/_history`)).status, 403);
        assert.deepEqual(await total(who, `DocumentReference?patient=${usager()}`), { total: 0, ids: [] });
        assert.deepEqual(await total(who, 'DocumentReference'), { total: 0, ids: [] });
        // Nothing through the usager's search either: _revinclude and _include drop what they may not read.
        const rev = await total(who, `Patient?_id=${ids.u}&_revinclude=DocumentReference:subject&_revinclude=CareTeam:subject`);
        assert.deepEqual(rev.ids, [usager()]);
        const write = await call(who, 'DocumentReference', { body: note('Tentative', who) });
        assert.equal(write.status, 403);
      }
      // The former member still had a consent for the circle: the ended period decides.
      assert.equal((await call(`Practitioner/${ids.d}`, `CareTeam/${ids.team}`)).status, 403);
      assert.equal((await call(`Practitioner/${ids.c}`, 'DocumentReference/_history')).status, 403);
      assert.equal((await call(`Practitioner/${ids.c}`, '_history')).status, 403);
      // Nor a bulk export, which would bypass the per-resource decisions.
      const bulk = await call(`Practitioner/${ids.c}`, '$export?_type=DocumentReference', { headers: { prefer: 'respond-async', accept: 'application/fhir+json' } });
      assert.equal(bulk.status, 403, bulk.text.slice(0, 300));
    });

    it('a restricted visibility label hides a note from the roles it names, totals included', async () => {
      const r = `RelatedPerson/${ids.r}`;
      assert.equal((await call(r, `DocumentReference/${ids.n1}`)).status, 200);
      const hidden = await call(r, `DocumentReference/${ids.n2}`);
      assert.equal(hidden.status, 403);
      assert.match(hidden.json.issue[0].details.text, /INVISIBLE_REPRESENTANTS_LEGAUX/);
      assert.deepEqual(await total(r, `DocumentReference?patient=${usager()}`), { total: 1, ids: [`DocumentReference/${ids.n1}`] });
      // The related person has no consent for the circle itself.
      assert.equal((await call(r, `CareTeam/${ids.team}`)).status, 403);
      assert.deepEqual((await total(r, 'CareTeam')).total, 0);
      // The usager sees both notes.
      assert.deepEqual((await total(usager(), `DocumentReference?patient=${usager()}`)).total, 2);
      assert.equal((await call(usager(), `DocumentReference/${ids.n2}`)).status, 200);
    });

    it('a note about another usager is refused to the member (the circle is per usager)', async () => {
      const other = { ...note('Ailleurs', `PractitionerRole/${ids.ra}`), subject: { reference: `Patient/${ids.other}` } };
      const before = await dumpTables(s.repo);
      assert.equal((await call(`Practitioner/${ids.a}`, 'DocumentReference', { body: other })).status, 403);
      // Moving an existing note to another usager is refused too.
      const current = await call(`Practitioner/${ids.a}`, `DocumentReference/${ids.n1}`);
      const moved = await call(`Practitioner/${ids.a}`, `DocumentReference/${ids.n1}`, { method: 'PUT', body: { ...current.json, subject: { reference: `Patient/${ids.other}` } } });
      assert.equal(moved.status, 403);
      assert.deepEqual(await dumpTables(s.repo), before);
    });

    it('a note without a type is refused with a clear OperationOutcome, nothing stored', async () => {
      const before = await dumpTables(s.repo);
      const { type: _t, ...untyped } = note('Sans type', `PractitionerRole/${ids.ra}`);
      const r = await call(`Practitioner/${ids.a}`, 'DocumentReference', { body: untyped });
      assert.equal(r.status, 422);
      assert.ok(r.json.issue.some((i: Json) => i.severity === 'error' && i.expression?.[0]?.startsWith('DocumentReference') && /type/.test(i.diagnostics)), r.text.slice(0, 800));
      assert.deepEqual(await dumpTables(s.repo), before);
    });

    it('the web UI: a person sees their own notebooks (Mes cahiers de liaison) and no other page', async () => {
      const ui = s.base.replace(/\/fhir$/, '');
      const page = async (who: string, path: string) => {
        const r = await fetch(`${ui}${path}`, { headers: await as(who) });
        return { status: r.status, text: await r.text() };
      };
      // Every other page shows every usager's data: refused to a person.
      for (const path of ['/usagers', `/usagers/${ids.u}`, `/usagers/${ids.u}/coordination`, '/envois', `/mes-cahiers?personne=Practitioner/${ids.b}`.replace('/mes-cahiers', '/pilotage')]) {
        const r = await page(`Practitioner/${ids.a}`, path);
        assert.equal(r.status, 403, `${path}: ${r.text.slice(0, 200)}`);
        assert.match(r.text, /seule la page « Mes cahiers de liaison »/);
      }
      // Member with consent: the usager's notebook, both notes (the label hides n2 from related persons only).
      const a = await page(`Practitioner/${ids.a}`, `/mes-cahiers?personne=Practitioner/${ids.b}`);
      assert.equal(a.status, 200);
      assert.doesNotMatch(a.text, /Voir les cahiers de liaison accessibles à/, 'no chooser: the token decides whose view');
      assert.match(a.text, /Jeanne Martin|Martin/);
      assert.match(a.text, /Jeanne a bien dormi\./);
      assert.match(a.text, /Entretien avec la famille/);
      // The related person: n1 only.
      const r = await page(`RelatedPerson/${ids.r}`, '/mes-cahiers');
      assert.match(r.text, /Jeanne a bien dormi\./);
      assert.doesNotMatch(r.text, /Entretien avec la famille/);
      // Member without consent: the usager listed, the notebook closed, with the reason.
      const b = await page(`Practitioner/${ids.b}`, '/mes-cahiers');
      assert.match(b.text, /notebook-closed/);
      assert.match(b.text, /n’a pas autorisé/);
      assert.doesNotMatch(b.text, /bien dormi/);
      // Former member: closed, "a quitté"; non-member: no circle.
      assert.match((await page(`Practitioner/${ids.d}`, '/mes-cahiers')).text, /a quitté le cercle/);
      const c = await page(`Practitioner/${ids.c}`, '/mes-cahiers');
      assert.match(c.text, /membre d’aucun cercle/);
      assert.doesNotMatch(c.text, /bien dormi/);
    });

    it('a system client (no fhirUser) writing a note is bound by the FINESS rule, not the circle: refused, nothing stored', async () => {
      const before = await dumpTables(s.repo);
      const jwt = await as(undefined, { scope: 'system/*.*', finess: '340780477' });
      const r = await http(`${s.base}/DocumentReference`, { body: note('Note du DUI', `PractitionerRole/${ids.ra}`), headers: jwt });
      assert.equal(r.status, 403, r.text.slice(0, 400));
      assert.equal(r.json.issue[0].code, 'forbidden');
      assert.match(r.json.issue[0].details.text, /ne désignent aucun ESSMS/);
      // In a transaction too: the whole Bundle is refused.
      const t = await http(s.base, { body: { resourceType: 'Bundle', type: 'transaction', entry: [{ fullUrl: 'urn:uuid:1d7c3b2a-0000-4000-8000-000000000001', resource: note('Note du DUI', `PractitionerRole/${ids.ra}`), request: { method: 'POST', url: 'DocumentReference' } }] }, headers: jwt });
      assert.equal(t.status, 403, t.text.slice(0, 400));
      assert.deepEqual(await dumpTables(s.repo), before);
    });

    it("when a member's period ends, their next request is refused", async () => {
      const a = `Practitioner/${ids.a}`;
      assert.equal((await call(a, `DocumentReference/${ids.n1}`)).status, 200);
      const team = (await call(usager(), `CareTeam/${ids.team}`)).json;
      team.participant[0].period.end = new Date(Date.now() - 1000).toISOString();
      const upd = await call(usager(), `CareTeam/${ids.team}`, { method: 'PUT', body: team });
      assert.equal(upd.status, 200, upd.text.slice(0, 800));
      const r = await call(a, `DocumentReference/${ids.n1}`);
      assert.equal(r.status, 403);
      assert.match(r.json.issue[0].details.text, /a quitté le cercle/);
      assert.deepEqual(await total(a, 'DocumentReference'), { total: 0, ids: [] });
    });
  });
}

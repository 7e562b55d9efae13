// `:below` / `:above` (issue 12), on both databases, over HTTP: on tokens, subsumption in the
// code system's hierarchy as the loaded packages define it (concept nesting: v3 ActCode's
// `_ActEncounterCode` > `IMP` > `ACUTE`); on uris, URL prefixes (`_profile`; `:above` at path
// boundaries). Each match and
// non-match, and the clear 400 when the hierarchy is unknown or the value has no system.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FhirResource } from '../fhir/json.js';
import { http, postgresSkipReason, startTestServer, type DbKind, type TestServer } from './test-support.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const ACT = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
const e = encodeURIComponent;

for (const kind of ['embedded', 'postgres'] as DbKind[]) {
  const skip = kind === 'postgres' ? await postgresSkipReason() : undefined;
  describe(`:below / :above [${kind}]`, { skip }, () => {
    let srv: TestServer;
    const ids: Record<string, string> = {};
    before(async () => {
      srv = await startTestServer(kind);
      const enc = (system: string, code: string): FhirResource => ({ resourceType: 'Encounter', status: 'finished', class: { system, code } });
      const pat = (profile: string): FhirResource => ({ resourceType: 'Patient', meta: { profile: [profile] } });
      const docs: [string, FhirResource][] = [
        ['amb', enc(ACT, 'AMB')],
        ['imp', enc(ACT, 'IMP')],
        ['acute', enc(ACT, 'ACUTE')],
        ['emer', enc(ACT, 'EMER')],
        ['otherImp', enc('http://example.org/classes', 'IMP')],
        ['p1', pat('https://example.org/fhir/StructureDefinition/usager')],
        ['p2', pat('https://example.org/fhir/StructureDefinition/usager-ehpad')],
        ['p3', pat('https://other.example/StructureDefinition/usager')],
      ];
      const written = await srv.repo.execute({ ops: docs.map(([, r]) => ({ method: 'create' as const, resourceType: r.resourceType, resource: r })) });
      docs.forEach(([k], i) => (ids[k] = written[i]!.id!));
    });
    after(async () => srv?.stop());

    const found = async (query: string, type = 'Encounter'): Promise<string[]> => {
      const r = await http(`${srv.base}/${type}?${query}`, { headers: { prefer: 'handling=strict' } });
      assert.equal(r.status, 200, `${query}: ${r.text.slice(0, 400)}`);
      const byId = Object.fromEntries(Object.entries(ids).map(([k, v]) => [v, k]));
      return (r.json.entry ?? []).map((x: Json) => byId[x.resource.id] ?? x.resource.id).sort();
    };

    it('token :below: the code and its descendants in the code system', async () => {
      assert.deepEqual(await found(`class:below=${e(`${ACT}|IMP`)}`), ['acute', 'imp']);
      assert.deepEqual(await found(`class:below=${e(`${ACT}|_ActEncounterCode`)}`), ['acute', 'amb', 'emer', 'imp']);
      assert.deepEqual(await found(`class:below=${e(`${ACT}|ACUTE`)}`), ['acute']);
      assert.deepEqual(await found(`class:below=${e(`${ACT}|AMB`)},${e(`${ACT}|EMER`)}`), ['amb', 'emer']);
      assert.deepEqual(await found(`class:below=${e(`${ACT}|NOTACODE`)}`), [], 'an unknown code subsumes only itself');
    });

    it('token :above: the code and its ancestors', async () => {
      assert.deepEqual(await found(`class:above=${e(`${ACT}|ACUTE`)}`), ['acute', 'imp']);
      assert.deepEqual(await found(`class:above=${e(`${ACT}|IMP`)}`), ['imp'], 'IMP is not below itself\'s child');
      assert.deepEqual(await found(`class:above=${e(`${ACT}|AMB`)}`), ['amb']);
    });

    it('token: no system, or a code system that is not loaded: a 400 naming the parameter', async () => {
      for (const q of [`class:below=IMP`, `class:below=${e('|IMP')}`, `class:above=${e('http://example.org/classes|IMP')}`]) {
        const r = await http(`${srv.base}/Encounter?${q}`);
        assert.equal(r.status, 400, q);
        assert.equal(r.json.issue[0].expression[0], 'class', q);
      }
    });

    it('uri :below / :above: URL prefixes', async () => {
      assert.deepEqual(await found(`_profile:below=${e('https://example.org/fhir/StructureDefinition/')}`, 'Patient'), ['p1', 'p2']);
      assert.deepEqual(await found(`_profile:below=${e('https://example.org/fhir/StructureDefinition/usager-')}`, 'Patient'), ['p2']);
      assert.deepEqual(await found(`_profile:above=${e('https://example.org/fhir/StructureDefinition/usager-ehpad/v2')}`, 'Patient'), ['p2'], '…/usager is not a path above …/usager-ehpad');
      assert.deepEqual(await found(`_profile:above=${e('https://example.org/fhir/StructureDefinition/usager/_history/2')}`, 'Patient'), ['p1']);
      assert.deepEqual(await found(`_profile:above=${e('https://example.org/fhir/StructureDefinition/usager')}`, 'Patient'), ['p1']);
      assert.deepEqual(await found(`_profile=${e('https://example.org/fhir/StructureDefinition/usager')}`, 'Patient'), ['p1']);
      assert.deepEqual(await found(`_profile:below=${e('https://nowhere.example/')}`, 'Patient'), []);
    });
  });
}

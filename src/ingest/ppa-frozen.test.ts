// A validated projet personnalisé is frozen (D-150, issue 17), over real HTTP on both databases:
// a TDDUI resend that changes a validated CarePlan is refused (412, French and English, nothing
// stored, the rejection logged); the same resend naming the validated version
// (`entry.request.ifMatch`) is accepted as a new version; a stale version is a 412; a resend
// bringing a new accord of the usager, or only closing the plan, is accepted. Through the REST
// core (a module serving CarePlan update / delete, as a volet would): PUT and DELETE without
// If-Match refused, with it accepted.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildBundle, type PivotInput } from '../producer/index.js';
import type { IgModule } from '../rest/modules.js';
import { http, startTestServer, type TestServer } from '../server/test-support.js';
import { generatedPpa } from '../ui/testing/ppa.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const bundleOf = (p: PivotInput, ifMatch?: string) => {
  const r = buildBundle(structuredClone(p)) as Json;
  const b = r.bundle ?? r;
  if (ifMatch !== undefined) for (const e of b.entry) if (e.resource.resourceType === 'CarePlan') e.request.ifMatch = ifMatch;
  return b;
};

/** A volet that lets clients update and delete CarePlans (what the rule must hold against). */
const carePlanWriter: IgModule = { name: 'test.careplan.writer', served: () => [{ type: 'CarePlan', interactions: ['update', 'delete'] }] };

for (const kind of ['embedded', 'postgres'] as const) {
  describe(`a validated projet personnalisé is frozen (${kind})`, { concurrency: false }, () => {
    let s: TestServer;
    const u = generatedPpa();
    const pp = () => u.projetsPersonnalises[0];
    let carePlanId: string;
    const versions = async () => Number((await s.repo.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM resource_history`)).rows[0]!.n);
    const carePlan = async () => (await http(`${s.base}/CarePlan/${carePlanId}`)).json;
    before(async () => {
      s = await startTestServer(kind, { modules: [carePlanWriter] });
      const r = await http(s.base, { body: bundleOf(u) });
      assert.equal(r.status, 200, r.text.slice(0, 500));
      carePlanId = (await http(`${s.base}/CarePlan`)).json.entry[0].resource.id;
      const v = await http(`${s.base}/Patient/${(await http(`${s.base}/Patient`)).json.entry[0].resource.id}/$ppa-versions`);
      const validated = v.json.parameter[0].part.find((x: Json) => x.name === 'validated').valueBoolean;
      assert.equal(validated, true, 'the generated plan carries the usager’s accord');
    });
    after(async () => s?.stop());

    it('a resend changing the validated CarePlan is refused (412, fr + en), nothing stored, the rejection logged', async () => {
      const before = await versions();
      const v2 = structuredClone(u);
      v2.projetsPersonnalises[0].titre = 'Projet personnalisé révisé';
      const r = await http(s.base, { body: bundleOf(v2) });
      assert.equal(r.status, 412, r.text.slice(0, 500));
      const issue = r.json.issue.find((i: Json) => i.details?.coding?.some((c: Json) => c.code === 'http-ppa-validated-frozen'));
      assert.ok(issue, r.text.slice(0, 800));
      assert.equal(issue.code, 'conflict');
      assert.match(issue.diagnostics ?? issue.details.text, /is validated|est validé/);
      const texts = JSON.stringify(r.json);
      assert.match(texts, /est validé : sa version 1 porte l’accord de l’usager/);
      assert.match(texts, /is validated: its version 1 carries the usager’s accord/);
      assert.equal(await versions(), before, 'no version written');
      assert.equal((await carePlan()).meta.versionId, '1');
      const last = (await s.repo.listSubmissions({ count: 1, offset: 0 })).items[0]!;
      assert.equal(last.outcome, 'rejected');
      assert.equal(last.httpStatus, 412);
    });

    it('the same resend naming the validated version (entry.request.ifMatch) is accepted as a new version; a stale one is a 412', async () => {
      const v2 = structuredClone(u);
      v2.projetsPersonnalises[0].titre = 'Projet personnalisé révisé';
      const r = await http(s.base, { body: bundleOf(v2, 'W/"1"') });
      assert.equal(r.status, 200, r.text.slice(0, 500));
      const cp = await carePlan();
      assert.equal(cp.meta.versionId, '2');
      assert.equal(cp.title, 'Projet personnalisé révisé');
      // The validated version itself is unchanged in the history.
      assert.equal((await http(`${s.base}/CarePlan/${carePlanId}/_history/1`)).json.title, pp().titre);
      const before = await versions();
      const v3 = structuredClone(v2);
      v3.projetsPersonnalises[0].titre = 'Encore autre chose';
      const stale = await http(s.base, { body: bundleOf(v3, 'W/"1"') });
      assert.equal(stale.status, 412, stale.text.slice(0, 400));
      assert.ok(JSON.stringify(stale.json).includes('http-version-conflict'));
      assert.equal(await versions(), before);
      const bad = await http(s.base, { body: bundleOf(v3, 'deux') });
      assert.equal(bad.status, 400);
      assert.equal(await versions(), before);
      u.projetsPersonnalises[0].titre = 'Projet personnalisé révisé';
    });

    it('through the REST core: PUT and DELETE without If-Match refused, PUT with it accepted', async () => {
      const before = await versions();
      const cp = await carePlan();
      const changed = { ...cp, description: 'Révisé en réunion de synthèse' };
      const put = await http(`${s.base}/CarePlan/${carePlanId}`, { method: 'PUT', body: changed });
      assert.equal(put.status, 412, put.text.slice(0, 400));
      assert.ok(put.text.includes('http-ppa-validated-frozen'));
      const del = await http(`${s.base}/CarePlan/${carePlanId}`, { method: 'DELETE' });
      assert.equal(del.status, 412, del.text.slice(0, 400));
      assert.equal(await versions(), before, 'nothing written');
      const ok = await http(`${s.base}/CarePlan/${carePlanId}`, { method: 'PUT', body: changed, headers: { 'if-match': 'W/"2"' } });
      assert.ok(ok.status === 200, ok.text.slice(0, 800));
      assert.equal(ok.headers.get('etag'), 'W/"3"');
      // Put back what the DUI sends (its next resend would otherwise change it), knowingly.
      const back = await http(`${s.base}/CarePlan/${carePlanId}`, { method: 'PUT', body: cp, headers: { 'if-match': 'W/"3"' } });
      assert.equal(back.status, 200, back.text.slice(0, 400));
    });

    it('a resend bringing a new accord of the usager, or only closing the plan, needs no If-Match', async () => {
      const v = structuredClone(u);
      const p = v.projetsPersonnalises[0];
      p.modaliteCommunication = 'Réunion trimestrielle avec la famille';
      p.accords.push({ type: 'usager', date: '2026-07-01T10:00:00+02:00', signataire: { usager: true } });
      const r = await http(s.base, { body: bundleOf(v) });
      assert.equal(r.status, 200, r.text.slice(0, 600));
      assert.equal((await carePlan()).meta.versionId, '5');
      const closed = structuredClone(v);
      closed.projetsPersonnalises[0].statut = 'completed';
      const c = await http(s.base, { body: bundleOf(closed) });
      assert.equal(c.status, 200, c.text.slice(0, 600));
      assert.equal((await carePlan()).status, 'completed');
    });
  });
}

// OAuth 2.0 bearer tokens on a real server (real HTTP, embedded database): who may read and
// send what. Tokens are real JWTs signed with keys made here; the JWKS is a file, or an
// HTTP endpoint served by the test.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Authenticator, parseFiness, parseScopes } from './auth.js';
import { parseServeArgs } from '../cli/serve.js';
import { dumpTables, http, readExample, signedTokens, startTestServer, TEST_AUDIENCE as AUDIENCE, TEST_ISSUER as ISSUER, type SignedTokens, type TestServer } from './test-support.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const FINESS = '480787529'; // the official examples' ESSMS
const SSIAD_BUNDLE = 'Bundle-tddui-bundle-example.json';
const PA_BUNDLE = 'Bundle-tddui-pp-pa-bundle-example.json';
const DOC_EXAMPLE = 'DocumentReference-tddui-pp-pa-documentreference-entrant-example.json';


const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const errorsOf = (oo: Json): Json[] => (oo?.issue ?? []).filter((i: Json) => i.severity === 'error' || i.severity === 'fatal');

describe('scopes and FINESS claims', () => {
  it('reads SMART v1 and v2 system/user scopes; other scopes grant nothing', () => {
    const g = parseScopes('openid system/Patient.read system/*.write user/Encounter.rs system/Task.cud patient/*.read system/Goal. system/Goal.x');
    assert.deepEqual([...g.get('Patient')!], ['read']);
    assert.deepEqual([...g.get('*')!], ['write']);
    assert.deepEqual([...g.get('Encounter')!], ['read']);
    assert.deepEqual([...g.get('Task')!], ['write']);
    assert.equal(g.has('Goal'), false);
    assert.equal([...g.keys()].length, 4, 'patient/ scopes would need compartment filtering: not granted');
    assert.deepEqual([...parseScopes(['system/*.*']).get('*')!].sort(), ['read', 'write']);
    assert.deepEqual([...parseScopes('system/*.cruds').get('*')!].sort(), ['read', 'write']);
    assert.equal(parseScopes(undefined).size, 0);
  });

  it('reads the FINESS claim as a string, a list or an array; ignores what is not a FINESS', () => {
    assert.deepEqual([...parseFiness('480787529')], ['480787529']);
    assert.deepEqual([...parseFiness('480787529, 2A0000012 750000010')], ['480787529', '2A0000012', '750000010']);
    assert.deepEqual([...parseFiness(['480787529', 12, '1480787529', 'x'])], ['480787529']);
    assert.equal(parseFiness(undefined).size, 0);
  });
});

describe('serve --auth-* options', () => {
  it('builds the auth options from flags and environment; refuses inconsistent ones', () => {
    const ok = parseServeArgs(['--auth-jwks', 'https://auth.example.test/jwks', '--auth-audience', 'a'], {});
    assert.ok('options' in ok);
    assert.deepEqual(ok.options.auth, { jwks: 'https://auth.example.test/jwks', audience: 'a' });
    const env = parseServeArgs([], { TDDUI_AUTH_JWKS: '/etc/tddui/jwks.json', TDDUI_AUTH_ISSUER: ISSUER });
    assert.ok('options' in env);
    assert.deepEqual(env.options.auth, { jwks: '/etc/tddui/jwks.json', issuer: ISSUER });
    const open = parseServeArgs([], {});
    assert.ok('options' in open && open.options.auth === undefined);
    assert.match((parseServeArgs(['--auth-issuer', ISSUER], {}) as { error: string }).error, /need --auth-jwks/);
    assert.match((parseServeArgs(['--auth-jwks', 'http://auth.example.test/jwks'], {}) as { error: string }).error, /https/);
    assert.ok('options' in parseServeArgs(['--auth-jwks', 'http://127.0.0.1:9000/jwks'], {}));
  });

  it('fails at start-up on a JWKS file that cannot be read or holds no key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tddui-auth-'));
    await assert.rejects(Authenticator.create({ jwks: join(dir, 'missing.json') }), /cannot read the JWKS file/);
    writeFileSync(join(dir, 'empty.json'), '{"keys": []}');
    await assert.rejects(Authenticator.create({ jwks: join(dir, 'empty.json') }), /holds no key/);
  });
});

describe('server with OAuth 2.0 bearer tokens (JWKS file)', () => {
  let s: TestServer;
  let keys: SignedTokens;
  let other: SignedTokens;
  let producer: string;
  let reader: string;
  before(async () => {
    keys = await signedTokens({ kid: 'k1' });
    other = await signedTokens({ kid: 'k2' });
    s = await startTestServer('embedded', { auth: keys.auth });
    producer = await keys.sign({ sub: 'dui-vendor-1', scope: 'system/*.write', finess: FINESS });
    reader = await keys.sign({ sub: 'sidoba', scope: 'system/*.read' });
  });
  after(async () => s?.stop());

  it('answers 401 with a Bearer challenge and an OperationOutcome to a request without a valid token', async () => {
    const none = await http(`${s.base}/Patient`);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate')!, /^Bearer realm="tddui"$/);
    assert.equal(none.json.resourceType, 'OperationOutcome');
    assert.equal(none.json.issue[0].code, 'login');
    assert.match(none.json.issue[0].details.text, /Authentification requise/);

    const cases: [string, Record<string, string>, RegExp][] = [
      ['not Bearer', { authorization: 'Basic dXNlcjpwYXNz' }, /not "Bearer <token>"/],
      ['not a JWT', bearer('abc.def'), /not a valid JWT|not valid/],
      ['unknown key', bearer(await other.sign({ scope: 'system/*.read' })), /key the server does not know/],
      ['expired', bearer(await keys.sign({ scope: 'system/*.read' }, { expiresIn: Math.floor(Date.now() / 1000) - 3600 })), /expired/],
      ['wrong issuer', bearer(await keys.sign({ scope: 'system/*.read' }, { issuer: 'https://evil.example.test' })), /iss/],
      ['wrong audience', bearer(await keys.sign({ scope: 'system/*.read' }, { audience: 'another-api' })), /aud/],
    ];
    for (const [what, headers, message] of cases) {
      const r = await http(`${s.base}/Patient`, { headers });
      assert.equal(r.status, 401, what);
      assert.match(r.headers.get('www-authenticate')!, /error="invalid_(token|request)"/, what);
      assert.match(r.json.issue[0].diagnostics, message, what);
    }
    // A signature made with another key under the known key id.
    const forged = (await other.sign({ scope: 'system/*.read' })).split('.');
    const genuine = (await keys.sign({ scope: 'system/*.read' })).split('.');
    const r = await http(`${s.base}/Patient`, { headers: bearer(`${genuine[0]}.${genuine[1]}.${forged[2]}`) });
    assert.equal(r.status, 401);
    assert.match(r.json.issue[0].diagnostics, /signature/);
  });

  it('keeps /metadata and /healthz open; the CapabilityStatement declares OAuth', async () => {
    const md = await http(`${s.base}/metadata`);
    assert.equal(md.status, 200);
    const security = md.json.rest[0].security;
    assert.equal(security.cors, false);
    assert.equal(security.service[0].coding[0].code, 'OAuth');
    assert.equal((await http(`${s.url}/healthz`)).status, 200);
  });

  it('accepts a Bundle of the FINESS the token names, and nothing from another FINESS (nothing stored)', async () => {
    // Every table, the submission log included: a refused request is not logged as a submission.
    const before = await dumpTables(s.repo, []);
    const elsewhere = await keys.sign({ sub: 'dui-vendor-2', scope: 'system/*.write', finess: ['750000010', '2A0000012'] });
    const refused = await http(`${s.base}`, { body: readExample(SSIAD_BUNDLE), headers: bearer(elsewhere) });
    assert.equal(refused.status, 403);
    assert.equal(refused.json.issue[0].code, 'forbidden');
    assert.match(refused.json.issue[0].diagnostics, /FINESS 750000010, 2A0000012, not for FINESS 480787529/);
    const noFiness = await http(`${s.base}`, { body: readExample(SSIAD_BUNDLE), headers: bearer(await keys.sign({ scope: 'system/*.write' })) });
    assert.equal(noFiness.status, 403);
    assert.match(noFiness.json.issue[0].diagnostics, /FINESS none/);
    // A reader may not write, whatever the FINESS.
    const byReader = await http(`${s.base}`, { body: readExample(SSIAD_BUNDLE), headers: bearer(reader) });
    assert.equal(byReader.status, 403);
    assert.match(byReader.json.issue[0].diagnostics, /does not allow writing/);
    // Write scopes per type: every type of the Bundle is needed.
    const partial = await keys.sign({ scope: 'system/Patient.write system/Organization.write', finess: FINESS });
    const byPartial = await http(`${s.base}`, { body: readExample(SSIAD_BUNDLE), headers: bearer(partial) });
    assert.equal(byPartial.status, 403);
    assert.match(byPartial.json.issue[0].diagnostics, /writing Encounter/);
    // A Bundle that names no ESSMS cannot be bound to the token's FINESS.
    const anonymous = { resourceType: 'Bundle', type: 'transaction', entry: [{ fullUrl: 'urn:uuid:0c8a3f50-1b52-4d1f-9d36-3d5f0b6f4a11', resource: { resourceType: 'Patient', gender: 'male' }, request: { method: 'POST', url: 'Patient' } }] };
    const byAnonymous = await http(`${s.base}`, { body: anonymous, headers: bearer(producer) });
    assert.equal(byAnonymous.status, 403);
    assert.match(byAnonymous.json.issue[0].diagnostics, /name no ESSMS/);
    assert.deepEqual(await dumpTables(s.repo, []), before);

    const accepted = await http(`${s.base}`, { body: readExample(SSIAD_BUNDLE), headers: bearer(producer) });
    assert.equal(accepted.status, 200, accepted.text.slice(0, 400));
    assert.equal(accepted.json.type, 'transaction-response');
    const pa = await http(`${s.base}`, { body: readExample(PA_BUNDLE), headers: bearer(producer) });
    assert.equal(pa.status, 200, pa.text.slice(0, 400));
  });

  it('refuses a Bundle that files objects under another facility\'s identifiers behind the client\'s own Organization (403, nothing stored); logs who sent each submission', async () => {
    const before = await dumpTables(s.repo, []);
    // FINESS A's client prepends A's Organization to facility B's (480787529) data.
    const smuggled = readExample(SSIAD_BUNDLE);
    const org = smuggled.entry.find((e: Json) => e.resource.resourceType === 'Organization').resource;
    org.identifier = [{ ...org.identifier[0], value: '1750000010' }];
    const clientA = await keys.sign({ sub: 'dui-vendor-2', client_id: 'dui-a', scope: 'system/*.write', finess: '750000010' });
    const refused = await http(`${s.base}`, { body: smuggled, headers: bearer(clientA) });
    assert.equal(refused.status, 403, refused.text.slice(0, 300));
    assert.equal(refused.json.issue[0].code, 'forbidden');
    assert.match(refused.json.issue[0].diagnostics, /not for FINESS 480787529 \(named at Bundle\.entry\[\d+\]\.resource\.identifier\[\d+\]\)/);
    assert.match(refused.json.issue[0].expression[0], /^Bundle\.entry\[\d+\]\.resource\.identifier\[\d+\]$/);
    // The Organization entry must be the client's FINESS too (the data say 480787529 elsewhere).
    const otherOrg = readExample(SSIAD_BUNDLE);
    otherOrg.entry.find((e: Json) => e.resource.resourceType === 'Organization').resource.identifier[0].value = '1750000010';
    const both = await keys.sign({ sub: 'dui-vendor-1', scope: 'system/*.write', finess: FINESS });
    const r2 = await http(`${s.base}`, { body: otherOrg, headers: bearer(both) });
    assert.equal(r2.status, 403);
    assert.match(r2.json.issue[0].diagnostics, /not for FINESS 750000010/);
    assert.deepEqual(await dumpTables(s.repo, []), before, 'nothing stored, nothing logged');

    const ok = await http(`${s.base}`, { body: readExample(SSIAD_BUNDLE), headers: bearer(await keys.sign({ sub: 'dui-vendor-1', client_id: 'dui-app', scope: 'system/*.write', finess: FINESS })) });
    assert.equal(ok.status, 200, ok.text.slice(0, 300));
    const logged = await s.repo.getSubmission(ok.headers.get('x-tddui-submission')!);
    assert.equal(logged?.client, 'dui-vendor-1 (client dui-app)');
    const bad = readExample(SSIAD_BUNDLE);
    bad.entry[0].resource.birthDate = 'not-a-date';
    const rejected = await http(`${s.base}`, { body: bad, headers: bearer(producer) });
    assert.equal(rejected.status, 422);
    assert.equal((await s.repo.getSubmission(rejected.headers.get('x-tddui-submission')!))?.client, 'dui-vendor-1');
  });

  it('lets a reader read and search; a producer token does not read', async () => {
    const patients = await http(`${s.base}/Patient`, { headers: bearer(reader) });
    assert.equal(patients.status, 200);
    assert.ok(patients.json.entry.length >= 1);
    const id = patients.json.entry[0].resource.id;
    assert.equal((await http(`${s.base}/Patient/${id}`, { headers: bearer(reader) })).status, 200);
    assert.equal((await http(`${s.base}/Patient/${id}/_history`, { headers: bearer(reader) })).status, 200);
    assert.equal((await http(`${s.base}/_history`, { headers: bearer(reader) })).status, 200);
    assert.equal((await http(`${s.base}/Bundle`, { headers: bearer(reader) })).status, 200);

    const byProducer = await http(`${s.base}/Patient/${id}`, { headers: bearer(producer) });
    assert.equal(byProducer.status, 403);
    assert.match(byProducer.json.issue[0].diagnostics, /does not allow reading Patient \(scope system\/Patient.read needed\)/);
    // Validation stores nothing: any valid token may use it.
    const v = await http(`${s.base}/$validate`, { body: readExample(DOC_EXAMPLE), headers: bearer(producer) });
    assert.equal(v.status, 200);
    assert.deepEqual(errorsOf(v.json), []);
  });

  it('limits type-scoped readers to their types, includes and history included', async () => {
    const patientOnly = await keys.sign({ scope: 'system/Patient.read' });
    const p = await http(`${s.base}/Patient`, { headers: bearer(patientOnly) });
    assert.equal(p.status, 200);
    assert.equal((await http(`${s.base}/Encounter`, { headers: bearer(patientOnly) })).status, 403);
    assert.equal((await http(`${s.base}/Patient?_revinclude=Encounter:subject`, { headers: bearer(patientOnly) })).status, 403);
    assert.equal((await http(`${s.base}/_history`, { headers: bearer(patientOnly) })).status, 403);
    assert.equal((await http(`${s.base}/Bundle`, { headers: bearer(patientOnly) })).status, 403);
    // An _include without a target type is judged by what it found.
    const enc = await keys.sign({ scope: 'system/Encounter.read' });
    const inc = await http(`${s.base}/Encounter?_include=Encounter:subject`, { headers: bearer(enc) });
    assert.equal(inc.status, 403);
    assert.match(inc.json.issue[0].diagnostics, /reading Patient/);
    const both = await keys.sign({ scope: 'system/Encounter.read system/Patient.read' });
    const ok = await http(`${s.base}/Encounter?_include=Encounter:subject`, { headers: bearer(both) });
    assert.equal(ok.status, 200);
    assert.ok(ok.json.entry.some((e: Json) => e.resource.resourceType === 'Patient'));
  });

  it('does not leak through submitted Bundles, chains or reverse chains: each type touched needs its read scope', async () => {
    const accepted = await http(`${s.base}`, { body: readExample(SSIAD_BUNDLE), headers: bearer(producer) });
    assert.equal(accepted.status, 200);
    const id = accepted.headers.get('x-tddui-submission')!;
    const bundleOnly = await keys.sign({ scope: 'system/Bundle.read' });
    const one = await http(`${s.base}/Bundle/${id}`, { headers: bearer(bundleOnly) });
    assert.equal(one.status, 403, 'a Bundle.read token reads no Patient through a submitted Bundle');
    assert.match(one.json.issue[0].diagnostics, /does not allow reading (Patient|Organization|Encounter|Practitioner|PractitionerRole|Task)/);
    assert.equal((await http(`${s.base}/Bundle`, { headers: bearer(bundleOnly) })).status, 403);
    assert.equal((await http(`${s.base}/Bundle/${id}`, { headers: bearer(reader) })).status, 200);
    // The list's total counts Bundles off the page: no count of what the token cannot read (was 200, total 1).
    const manyTypes = await keys.sign({ scope: 'system/Bundle.read system/Patient.read system/Encounter.read' });
    for (const q of ['Bundle?_count=0', 'Bundle?_lastUpdated=ge2000-01-01&_count=0', 'Bundle']) {
      const r = await http(`${s.base}/${q}`, { headers: bearer(manyTypes) });
      assert.equal(r.status, 403, `${q}: ${r.text.slice(0, 200)}`);
      assert.equal(r.json.total, undefined);
    }
    const all = await http(`${s.base}/Bundle?_count=0`, { headers: bearer(reader) });
    assert.equal(all.status, 200);
    assert.ok(all.json.total >= 1);

    const enc = await keys.sign({ scope: 'system/Encounter.read' });
    for (const q of ['Encounter?patient.name=a', 'Encounter?subject:Patient.name=a', 'Encounter?patient.organization.name=a']) {
      const r = await http(`${s.base}/${q}`, { headers: bearer(enc) });
      assert.equal(r.status, 403, q);
      assert.match(r.json.issue[0].diagnostics, /reading (Patient|Organization)/, q);
    }
    const patientOnly = await keys.sign({ scope: 'system/Patient.read' });
    const has = await http(`${s.base}/Patient?_has:Encounter:patient:status=finished`, { headers: bearer(patientOnly) });
    assert.equal(has.status, 403);
    assert.match(has.json.issue[0].diagnostics, /reading Encounter/);
    const both = await keys.sign({ scope: 'system/Encounter.read system/Patient.read' });
    assert.equal((await http(`${s.base}/Encounter?subject:Patient.name=a`, { headers: bearer(both) })).status, 200);
    assert.equal((await http(`${s.base}/Patient?_has:Encounter:patient:status=finished`, { headers: bearer(both) })).status, 200);
  });

  it('binds v1 DocumentReference creates and PATCHes to the FINESS of the document', async () => {
    const doc = readExample(DOC_EXAMPLE);
    delete doc.id;
    doc.masterIdentifier = { ...doc.masterIdentifier, value: `3480787529/123456789-PPER-entrant-auth-${process.pid}` };
    const elsewhere = await keys.sign({ scope: 'system/*.write', finess: '750000010' });
    const refused = await http(`${s.base}/DocumentReference`, { body: doc, headers: bearer(elsewhere) });
    assert.equal(refused.status, 403);
    const created = await http(`${s.base}/DocumentReference`, { body: doc, headers: bearer(producer) });
    assert.equal(created.status, 201, created.text.slice(0, 400));
    const url = created.headers.get('location')!.replace(/\/_history\/\d+$/, '');
    const patch = [{ op: 'replace', path: '/content/0/attachment/data', value: Buffer.from('v2').toString('base64') }];
    const byOther = await http(url, { method: 'PATCH', body: patch, type: 'application/json-patch+json', headers: bearer(elsewhere) });
    assert.equal(byOther.status, 403);
    const byOwner = await http(url, { method: 'PATCH', body: patch, type: 'application/json-patch+json', headers: bearer(producer) });
    assert.equal(byOwner.status, 200, byOwner.text.slice(0, 400));
    assert.equal(byOwner.json.meta.versionId, '2');
  });

  it('protects the web UI: 401 without a token, 403 without read on every type, pages with one', async () => {
    const none = await http(`${s.url}/usagers`, { headers: { accept: 'text/html' } });
    assert.equal(none.status, 401);
    assert.match(none.headers.get('content-type')!, /text\/html/);
    assert.match(none.text, /Authentification requise/);
    assert.match(none.headers.get('www-authenticate')!, /^Bearer/);
    const byProducer = await http(`${s.url}/usagers`, { headers: { accept: 'text/html', ...bearer(producer) } });
    assert.equal(byProducer.status, 403);
    assert.match(byProducer.text, /system\/\*\.read/);
    const page = await http(`${s.url}/usagers`, { headers: { accept: 'text/html', ...bearer(reader) } });
    assert.equal(page.status, 200);
    assert.match(page.text, /Usagers/);
    // Validation stores nothing: a producer may use it; the stylesheet is public.
    assert.equal((await http(`${s.url}/valider`, { headers: { accept: 'text/html', ...bearer(producer) } })).status, 200);
    assert.equal((await http(`${s.url}/ui/style.css`)).status, 200);
  });
});

describe('server with OAuth 2.0 bearer tokens (JWKS over HTTP)', () => {
  let s: TestServer;
  let jwksServer: Server;
  let keys: SignedTokens;
  let failing = false;
  let fetches = 0;
  before(async () => {
    keys = await signedTokens({ kid: 'remote-1' });
    jwksServer = createServer((_req, res) => {
      fetches++;
      if (failing) {
        res.writeHead(500).end('down');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [keys.jwk] }));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    const port = (jwksServer.address() as { port: number }).port;
    s = await startTestServer('embedded', { auth: { jwks: `http://127.0.0.1:${port}/jwks`, audience: AUDIENCE } });
  });
  after(async () => {
    await s?.stop();
    jwksServer?.close();
  });

  it('verifies tokens with the fetched keys, and answers 503 (not 401) when the keys cannot be fetched', async () => {
    const reader = await keys.sign({ scope: 'system/*.read' });
    const ok = await http(`${s.base}/Patient`, { headers: bearer(reader) });
    assert.equal(ok.status, 200, ok.text.slice(0, 300));
    assert.equal(fetches, 1);
    assert.equal((await http(`${s.base}/Patient`, { headers: bearer(reader) })).status, 200);
    assert.equal(fetches, 1, 'the key set is cached');
    // A key id the cached set lacks: within the cool-down (30 s) the set is not fetched again
    // (random key ids must not make the server hammer the authorisation server): 401.
    const rotated = await signedTokens({ kid: 'remote-2' });
    const unknown = await http(`${s.base}/Patient`, { headers: bearer(await rotated.sign({ scope: 'system/*.read' })) });
    assert.equal(unknown.status, 401);
    assert.equal(fetches, 1);
  });

  it('answers 503 (not 401) while the keys cannot be fetched', async () => {
    failing = true;
    const port = (jwksServer.address() as { port: number }).port;
    const auth = await Authenticator.create({ jwks: `http://127.0.0.1:${port}/jwks` });
    const t = await keys.sign({ scope: 'system/*.read' });
    await assert.rejects(auth.authenticate(`Bearer ${t}`), (e: Json) => e.status === 503 && e.issueCode === 'transient' && e.headers['retry-after'] === '30');
    const closed = await Authenticator.create({ jwks: 'http://127.0.0.1:9/jwks' });
    await assert.rejects(closed.authenticate(`Bearer ${t}`), (e: Json) => e.status === 503);
    failing = false;
    assert.equal((await auth.authenticate(`Bearer ${t}`)).canAll('read'), true, 'works again once the keys can be fetched');
  });
});

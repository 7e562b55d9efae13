// Hostile requests for the probe suite (issue 21): malformed, huge, deep, prototype keys, bad
// UTF-8, XML bombs, SQL metacharacters in search, absurd paging, path traversal, NUL and lone
// surrogates, wrong media types and methods. Deterministic (a seeded generator): a failure
// names the request that caused it. Used by src/server/probe.test.ts (CI size) and
// bench/probe.ts (10,000 per database).
import { request } from 'node:http';

export interface HostileRequest {
  kind: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const JSON_TYPE = { 'content-type': 'application/fhir+json' };
const SQL = ["'", "';--", '" OR 1=1 --', "a' OR 'a'='a", '%27%3B%20DROP%20TABLE%20resource%3B--', '\\', '$1', 'a%', '_', '%25%5F', ');SELECT pg_sleep(5);--'];
const TRAVERSAL = ['/fhir/../../etc/passwd', '/ui/..%2f..%2fpackage.json', '/ui/%2e%2e/%2e%2e/package.json', '/documents/..%2F..%2Fetc%2Fpasswd/0', '/fhir/Patient/..%2F..', '/envois/..%2f..', '/fhir/%2e%2e/metadata'];
const TYPES = ['Patient', 'Encounter', 'Organization', 'Task', 'Bundle', 'DocumentReference', 'Nope', 'patient', '$validate'];

/** `count` hostile requests, seeded. `bundle`: a valid transaction Bundle (JSON text) to mutate. */
export function hostileRequests(count: number, bundle: string, seed = 21): HostileRequest[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const makers: (() => HostileRequest)[] = [
    () => ({ kind: 'malformed-json', method: 'POST', path: '/fhir', headers: JSON_TYPE, body: bundle.slice(0, Math.floor(r() * bundle.length)) }),
    () => ({ kind: 'not-json', method: 'POST', path: pick(['/fhir', '/fhir/Patient', '/fhir/$validate']), headers: JSON_TYPE, body: pick(['', ' ', 'null', '[]', '42', '"x"', '{', '{"resourceType":1}', '{"resourceType":"Bundle","type":"transaction","entry":{}}']) }),
    () => {
      const depth = 100 + Math.floor(r() * 20_000);
      return { kind: 'deep', method: 'POST', path: pick(['/fhir', '/fhir/$validate', '/fhir/Patient']), headers: JSON_TYPE, body: `{"resourceType":"Bundle","type":"transaction","entry":${'['.repeat(depth)}${']'.repeat(depth)}}` };
    },
    () => ({ kind: 'proto-keys', method: 'POST', path: pick(['/fhir', '/fhir/$validate']), headers: JSON_TYPE, body: bundle.replace('"resourceType":"Patient"', '"resourceType":"Patient","__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}') }),
    () => ({ kind: 'bad-utf8', method: 'POST', path: pick(['/fhir', '/fhir/$validate']), headers: JSON_TYPE, body: Buffer.concat([Buffer.from(bundle.slice(0, 200)), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80]), Buffer.from(bundle.slice(200))]) }),
    () => ({ kind: 'lone-surrogate', method: 'POST', path: '/fhir', headers: JSON_TYPE, body: bundle.replace(/"family":"[^"]*"/, '"family":"\\ud800"') }),
    () => ({ kind: 'nul', method: 'POST', path: pick(['/fhir', '/fhir/$validate']), headers: JSON_TYPE, body: bundle.replace(/"family":"[^"]*"/, '"family":"a\\u0000b"') }),
    () => ({ kind: 'xml-bomb', method: 'POST', path: pick(['/fhir', '/fhir/$validate', '/fhir/Patient']), headers: { 'content-type': 'application/fhir+xml' }, body: `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]><Patient xmlns="http://hl7.org/fhir"><name><family value="&lol4;"/></name></Patient>` }),
    () => ({ kind: 'xml-external', method: 'POST', path: '/fhir/$validate', headers: { 'content-type': 'application/fhir+xml' }, body: '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Patient xmlns="http://hl7.org/fhir"><name><family value="&xxe;"/></name></Patient>' }),
    () => ({ kind: 'sql-search', method: 'GET', path: `/fhir/${pick(['Patient', 'Encounter', 'Task'])}?${pick(['name', 'family', 'identifier', 'birthdate', 'subject', '_id', 'patient.name', '_has:Encounter:patient:status', '_sort', '_include'])}=${encodeURIComponent(pick(SQL))}` }),
    () => ({ kind: 'absurd-count', method: 'GET', path: `/fhir/Patient?_count=${pick(['-1', '0', '1e12', '99999999999999999999', 'abc', '', '1.5', '%00'])}&_offset=${pick(['-5', '1e30', 'x', '0'])}` }),
    () => ({ kind: 'traversal', method: pick(['GET', 'GET', 'DELETE']), path: pick(TRAVERSAL) }),
    () => ({ kind: 'nul-url', method: 'GET', path: pick(['/fhir/Patient?name=%00', '/fhir/Patient/%00', '/usagers/%00', '/envois/%00', '/fhir/Patient?name=%ED%A0%80', '/fhir/Patient?name=%FF', '/fhir/Patient/%E0%80%80']) }),
    () => ({ kind: 'bad-id', method: pick(['GET', 'PUT', 'PATCH', 'DELETE']), path: `/fhir/${pick(TYPES)}/${pick(['x'.repeat(300), '..', '%2F', 'a%20b', '-', '%F0%9F%98%80', '$everything'])}`, headers: JSON_TYPE, body: '{"resourceType":"Patient","id":"x"}' }),
    () => ({ kind: 'media-type', method: 'POST', path: pick(['/fhir', '/fhir/Patient', '/fhir/$validate']), headers: { 'content-type': pick(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json-patch+json', 'application/fhir+json; charset=latin1']) }, body: bundle.slice(0, 500) }),
    () => ({ kind: 'method', method: pick(['PUT', 'DELETE', 'PATCH', 'OPTIONS']), path: pick(['/fhir', '/fhir/metadata', '/healthz', '/fhir/Bundle', '/']) }),
    () => {
      const n = 2000 + Math.floor(r() * 5000);
      return { kind: 'wide-array', method: 'POST', path: '/fhir/$validate', headers: JSON_TYPE, body: JSON.stringify({ resourceType: 'Patient', name: [{ given: Array.from({ length: n }, () => 'a') }] }) };
    },
    () => ({ kind: 'patch-hostile', method: 'PATCH', path: `/fhir/${pick(['Patient', 'DocumentReference'])}/${pick(['abc', 'x'])}`, headers: { 'content-type': 'application/json-patch+json' }, body: pick(['[{"op":"replace","path":"/__proto__/x","value":1}]', '[{"op":"add","path":"/name/999999","value":"\\ud800"}]', '{"op":"test"}', '[{"op":"move","from":"/","path":"/a"}]']) }),
  ];
  return Array.from({ length: count }, () => pick(makers)());
}

/** Sends one request as it is (path unnormalised); its status, or -1 when refused at the socket. */
export function send(port: number, h: HostileRequest): Promise<number> {
  return new Promise((resolve) => {
    const body = h.body === undefined ? undefined : Buffer.isBuffer(h.body) ? h.body : Buffer.from(h.body);
    const req = request({ host: '127.0.0.1', port, method: h.method, path: h.path, headers: { ...(h.headers ?? {}), ...(body ? { 'content-length': String(body.length) } : {}) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(-1));
    });
    req.on('error', () => resolve(-1)); // refused at the socket (a path Node's parser rejects): not a 5xx
    if (body) req.write(body);
    req.end();
  });
}

export async function probe(port: number, requests: HostileRequest[], concurrency = 8): Promise<{ byStatus: Map<number, number>; failures: { kind: string; status: number; path: string }[] }> {
  const byStatus = new Map<number, number>();
  const failures: { kind: string; status: number; path: string }[] = [];
  let next = 0;
  const worker = async () => {
    while (next < requests.length) {
      const h = requests[next++]!;
      const status = await send(port, h);
      byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
      if (status >= 500) failures.push({ kind: h.kind, status, path: h.path.slice(0, 120) });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { byStatus, failures };
}


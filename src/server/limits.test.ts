// Limits (issue 21), on a real server with small limits: body size per route, entries, array
// and string length (413 OperationOutcomes before any work), rate limits (429 + Retry-After,
// and `tddui send` recovers), slow and numerous connections (dropped / capped, /healthz still
// answers), Cache-Control on health data, CSP on every HTML answer, links never from any Host.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { sendBundles } from '../producer/send/index.js';
import { SHARED_FHIR } from '../testing/paths.js';
import { startServer, type RunningServer } from './app.js';
import { FhirError, HTTP_ERRORS } from './outcome.js';
import { checkValueLimits, DEFAULT_LIMITS, type Limits } from './limits.js';
import { http, readExample } from './test-support.js';

const SSIAD = 'Bundle-tddui-bundle-example.json';

function rawRequest(port: number, text: string, localAddress?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port, ...(localAddress ? { localAddress } : {}) }, () => sock.write(text));
    let out = '';
    sock.on('data', (c) => (out += c));
    sock.on('end', () => resolve(out));
    sock.on('error', reject);
    sock.on('close', () => resolve(out));
  });
}

describe('value limits', () => {
  it('finds the first array or string over its limit, Bundle.entry apart', () => {
    const l = { bundleEntries: 2, arrayLength: 3, stringLength: 7 };
    assert.doesNotThrow(() => checkValueLimits({ resourceType: 'Patient', name: [{ given: ['a', 'b', 'c'] }] }, l, 'Patient'));
    assert.throws(() => checkValueLimits({ resourceType: 'Patient', name: [{ given: ['a', 'b', 'c', 'd'] }] }, l, 'Patient'), (e: { status: number; expression: string }) => e.status === 413 && e.expression === 'Patient.name[0].given');
    assert.throws(() => checkValueLimits({ resourceType: 'Patient', birthDate: '2020-01-01' }, l, 'Patient'), (e: { expression: string }) => e.expression === 'Patient.birthDate');
    assert.throws(() => checkValueLimits({ resourceType: 'Bundle', entry: [{}, {}, {}] }, l, 'Bundle'), (e: { id: string }) => e.id === 'http-too-many-entries');
    assert.doesNotThrow(() => checkValueLimits({ resourceType: 'Bundle', entry: [{}, {}] }, { ...l, arrayLength: 1 }, 'Bundle'));
  });

  // D-334: the walk no longer builds a path per value; the answer (which fault, at which path, with
  // which message) must be the one of the walk before it, kept here as the reference.
  it('answers as the walk that built a path per value did, on thousands of trees', () => {
    const before = (value: unknown, limits: Pick<Limits, 'bundleEntries' | 'arrayLength' | 'stringLength'>, root: string): void => {
      const stack: [unknown, string, string][] = [[value, root, '']];
      while (stack.length) {
        const [v, path, name] = stack.pop()!;
        if (typeof v === 'string') {
          if (v.length > limits.stringLength) throw new FhirError(HTTP_ERRORS.VALUE_TOO_LONG, { what: 'A string', whatFr: 'Une chaîne', expression: path, limit: `${limits.stringLength} characters` }, { expression: path });
        } else if (Array.isArray(v)) {
          const isEntry = name === 'entry';
          const max = isEntry ? limits.bundleEntries : limits.arrayLength;
          if (v.length > max) {
            if (isEntry) throw new FhirError(HTTP_ERRORS.TOO_MANY_ENTRIES, { count: v.length, limit: max }, { expression: path });
            throw new FhirError(HTTP_ERRORS.VALUE_TOO_LONG, { what: 'An array', whatFr: 'Un tableau', expression: path, limit: `${max} elements` }, { expression: path });
          }
          for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${path}[${i}]`, '']);
        } else if (typeof v === 'object' && v !== null) {
          for (const k of Object.keys(v)) stack.push([(v as Record<string, unknown>)[k], `${path}.${k}`, k]);
        }
      }
    };
    const answer = (check: typeof before, value: unknown, limits: Pick<Limits, 'bundleEntries' | 'arrayLength' | 'stringLength'>): string => {
      try {
        check(value, limits, 'Bundle');
        return 'ok';
      } catch (e) {
        const f = e as FhirError;
        return `${f.status} ${f.id} ${f.expression} ${f.message} ${f.text}`;
      }
    };
    let seed = 19;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const KEYS = ['entry', 'resource', 'name', 'given', 'a', 'b', '__proto__x', ''];
    const tree = (depth: number): unknown => {
      const r = random();
      if (depth > 5 || r < 0.3) return r < 0.1 ? null : r < 0.15 ? 42 : 'x'.repeat(Math.floor(random() * 9));
      if (r < 0.65) return Array.from({ length: Math.floor(random() * 5) }, () => tree(depth + 1));
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(random() * 5); i > 0; i--) o[KEYS[Math.floor(random() * KEYS.length)]!] = tree(depth + 1);
      return o;
    };
    const answers = new Set<string>();
    for (let n = 0; n < 5000; n++) {
      const value = tree(0);
      const limits = { bundleEntries: Math.floor(random() * 4), arrayLength: 1 + Math.floor(random() * 4), stringLength: 2 + Math.floor(random() * 7) };
      const expected = answer(before, value, limits);
      answers.add(expected.split(' ')[1] ?? expected);
      assert.equal(answer(checkValueLimits, value, limits), expected, JSON.stringify({ value, limits }));
    }
    // Every kind of answer was met (the comparison is not vacuous).
    assert.deepEqual([...answers].sort(), ['http-too-many-entries', 'http-value-too-long', 'ok'].sort());
    // Real Bundles, under limits that stop the walk at many different places.
    const bundle = readExample(SSIAD);
    for (let n = 0; n < 50; n++) {
      for (const limits of [DEFAULT_LIMITS, { bundleEntries: 30, arrayLength: 3, stringLength: 40 + n }, { bundleEntries: 30, arrayLength: 100, stringLength: 10 + n }, { bundleEntries: 10, arrayLength: 100, stringLength: 1000 }]) {
        assert.equal(answer(checkValueLimits, bundle, limits), answer(before, bundle, limits));
      }
    }
  });
});

describe('server limits', { concurrency: false }, () => {
  let s: RunningServer;
  let port: number;
  before(async () => {
    s = await startServer({
      port: 0,
      dataDir: 'memory://',
      packages: [SHARED_FHIR],
      logLevel: 'silent',
      limits: { validateBody: 2000, writeBody: 50_000, bundleEntries: 30, arrayLength: 50, writeRate: 3, rateWindowMs: 8000, readRate: 0, connectionsPerAddress: 20, headersTimeoutMs: 1000, requestTimeoutMs: 3000 },
    });
    port = Number(new URL(s.url).port);
  });
  after(async () => s?.close());

  it('answers 413 OperationOutcomes for a body over its route\'s limit (declared or streamed), too many entries, too long an array', async () => {
    const big = { resourceType: 'Patient', text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${'x'.repeat(3000)}</div>` } };
    const r = await http(`${s.url}/fhir/$validate`, { body: big });
    assert.equal(r.status, 413);
    assert.equal(r.json.resourceType, 'OperationOutcome');
    assert.equal(r.json.issue[0].code, 'too-costly');
    assert.match(r.json.issue[0].diagnostics, /larger than 2 KiB for a validation/);
    // Chunked (no Content-Length): cut as it streams.
    const chunked = await rawRequest(port, `POST /fhir/$validate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/fhir+json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${(3000).toString(16)}\r\n${'{'.padEnd(3000, ' ')}\r\n0\r\n\r\n`);
    assert.match(chunked, /^HTTP\/1.1 413/);
    const entries = readExample(SSIAD);
    entries.entry = Array.from({ length: 31 }, () => entries.entry[0]);
    const e = await http(`${s.url}/fhir`, { body: entries });
    assert.equal(e.status, 413);
    assert.match(e.json.issue[0].diagnostics, /31 entries; the limit is 30/);
    const given = await http(`${s.url}/fhir/$validate`, { body: { resourceType: 'Patient', name: [{ given: Array.from({ length: 51 }, () => 'a') }] }, headers: {} });
    assert.equal(given.status, 413, 'the $validate limit of 2 KiB is not reached, the array limit is');
    assert.deepEqual(given.json.issue[0].expression, ['Patient.name[0].given']);
  });

  it('answers 429 with Retry-After past the write rate; tddui send waits and gets its Bundles in', async () => {
    const bundle = JSON.stringify(readExample(SSIAD));
    await new Promise((r) => setTimeout(r, 8200)); // a fresh window (the test above wrote)
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 5; i++) {
      const r = await http(`${s.url}/fhir`, { body: bundle });
      statuses.push(r.status);
      if (r.status === 429) {
        retryAfter = r.headers.get('retry-after');
        assert.equal(r.json.issue[0].code, 'throttled');
      }
    }
    assert.deepEqual(statuses.slice(0, 3), [200, 200, 200]);
    assert.equal(statuses[3], 429);
    assert.match(retryAfter ?? '', /^\d+$/);
    // Reads by id are not limited.
    assert.equal((await http(`${s.url}/healthz`)).status, 200);
    const report = await sendBundles(
      Array.from({ length: 5 }, (_, i) => ({ name: `b${i}`, body: bundle })),
      { baseUrl: `${s.url}/fhir`, concurrency: 2, retries: 10, baseDelayMs: 50 },
    );
    assert.equal(report.accepted, 5, JSON.stringify(report.items.map((x) => [x.outcome, x.httpStatus, x.errors])));
    assert.ok(report.retries > 0, 'some were throttled and resent');
  });

  it('no-store on health data; a CSP on every HTML answer; links from this machine, not from any Host', async () => {
    const p = await http(`${s.url}/fhir/Patient`);
    assert.equal(p.headers.get('cache-control'), 'no-store');
    const notFound = await http(`${s.url}/nowhere`, { headers: { accept: 'text/html' } });
    assert.equal(notFound.status, 404);
    if (/text\/html/.test(notFound.headers.get('content-type') ?? '')) assert.match(notFound.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    const page = await http(`${s.url}/usagers`, { headers: { accept: 'text/html' } });
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    assert.equal(page.headers.get('cache-control'), 'no-store');
    const evil = await rawRequest(port, 'GET /fhir/Patient HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n');
    assert.match(evil, /^HTTP\/1.1 200/);
    assert.doesNotMatch(evil, /evil\.example/);
    assert.match(evil, /http:\/\/127\.0\.0\.1:\d+\/fhir\/Patient/);
  });

  it('drops slow clients and caps connections per address; /healthz keeps answering from another address', async () => {
    const held: Socket[] = [];
    let closedEarly = 0;
    for (let i = 0; i < 60; i++) {
      const sock = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' });
      sock.on('error', () => undefined);
      sock.on('close', () => closedEarly++);
      sock.write('POST /fhir HTTP/1.1\r\nHost: x\r\nContent-Type: application/fhir+json\r\nContent-Length: 100000\r\n');
      held.push(sock);
    }
    // (The machine may be loaded: wait until the refused ones are closed, at most 10 s.)
    for (let t = 0; t < 100 && closedEarly < 40; t++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(closedEarly >= 40, `connections past the cap of 20 per address are closed (${closedEarly} of 60)`);
    for (let i = 0; i < 10; i++) assert.equal((await http(`${s.url}/healthz`)).status, 200);
    // The headers never end: dropped once the header time-out (1 s, checked every few seconds) passes.
    const t0 = Date.now();
    await new Promise<void>((resolve) => {
      const check = () => (held.every((x) => x.destroyed || x.closed) || Date.now() - t0 > 40_000 ? resolve() : setTimeout(check, 200));
      check();
    });
    assert.ok(held.every((x) => x.destroyed || x.closed), 'slow clients are dropped');
    for (const x of held) x.destroy();
  });
});

it('the defaults are documented in docs/security.md', async () => {
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { REPO_ROOT } = await import('../testing/paths.js');
  const doc = readFileSync(join(REPO_ROOT, 'docs', 'security.md'), 'utf8');
  for (const name of Object.keys(DEFAULT_LIMITS)) assert.ok(doc.includes(`\`${name}\``), `docs/security.md lists ${name}`);
});

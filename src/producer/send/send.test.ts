// `send` against the REAL receiving server (startServer, in-memory database) behind a fault proxy:
// 503 then 200, a dropped connection, 429 with Retry-After, a response lost after the server
// stored the Bundle, a Bundle that keeps failing, and an invalid Bundle (422, never retried).
// In the end every Bundle is stored exactly once: one logical resource per business identifier.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startServer, type RunningServer } from '../../server/app.js';
import { SHARED_FHIR } from '../../testing/paths.js';
import { buildBundle } from '../build/index.js';
import { generateUsagers } from '../generate/index.js';
import { BID } from '../pivot/constants.js';
import { backoffDelay, parseRetryAfter, readItems, sendBundles, type SendEvent } from './index.js';

type Fault = '503' | '429' | 'drop' | 'drop-after' | 'ok';

let server: RunningServer;
let proxy: Server;
let proxyUrl: string;
/** Fault plan per usager local id: one entry per attempt; afterwards requests go through. */
const plan = new Map<string, Fault[]>();
/** Every request the proxy saw: usager, time, what it did. */
const hits: { usager: string; at: number; fault: Fault }[] = [];

function usagerOf(body: string): string {
  try {
    const b = JSON.parse(body);
    const pat = b.entry?.find((e: any) => e.resource?.resourceType === 'Patient')?.resource;
    const pi = pat?.identifier?.find((i: any) => i.system === BID.localUsager)?.value as string | undefined;
    return pi ? pi.slice(pi.indexOf('/') + 1) : '?';
  } catch {
    return '?';
  }
}

async function forward(req: IncomingMessage, body: string): Promise<{ status: number; headers: Record<string, string>; text: string }> {
  const res = await fetch(`${server.url}/fhir`, {
    method: req.method,
    headers: { 'content-type': req.headers['content-type'] ?? 'application/fhir+json', accept: 'application/fhir+json', ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) },
    body,
  });
  return { status: res.status, headers: { 'content-type': res.headers.get('content-type') ?? 'application/fhir+json' }, text: await res.text() };
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const body = Buffer.concat(chunks).toString('utf8');
  const usager = usagerOf(body);
  const fault = plan.get(usager)?.shift() ?? 'ok';
  hits.push({ usager, at: Date.now(), fault });
  if (fault === '503') {
    res.writeHead(503, { 'content-type': 'application/fhir+json' });
    res.end(JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'transient', diagnostics: 'injected 503' }] }));
  } else if (fault === '429') {
    res.writeHead(429, { 'retry-after': '1', 'content-type': 'text/plain' });
    res.end('slow down');
  } else if (fault === 'drop') {
    req.socket.destroy();
  } else if (fault === 'drop-after') {
    await forward(req, body); // the server stores it; the answer never reaches the sender
    req.socket.destroy();
  } else {
    const r = await forward(req, body);
    res.writeHead(r.status, r.headers);
    res.end(r.text);
  }
}

before(async () => {
  server = await startServer({ port: 0, dataDir: 'memory://', packages: [SHARED_FHIR], logLevel: 'silent' });
  proxy = createServer((req, res) => {
    handle(req, res).catch((e) => {
      res.writeHead(500);
      res.end(String(e));
    });
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/fhir`;
});

after(async () => {
  proxy?.closeAllConnections();
  await new Promise((r) => proxy?.close(r));
  await server?.close();
});

async function count(type: string): Promise<number> {
  const r = await fetch(`${server.url}/fhir/${type}?_summary=count`, { headers: { accept: 'application/fhir+json' } });
  assert.equal(r.status, 200);
  return ((await r.json()) as { total: number }).total;
}

async function patientVersion(idLocal: string, finess: string): Promise<{ total: number; versionId?: string }> {
  const q = encodeURIComponent(`${BID.localUsager}|3${finess}/${idLocal}`);
  const r = await fetch(`${server.url}/fhir/Patient?identifier=${q}`, { headers: { accept: 'application/fhir+json' } });
  const b = (await r.json()) as { total?: number; entry?: { resource: { meta: { versionId: string } } }[] };
  return { total: b.total ?? b.entry?.length ?? 0, versionId: b.entry?.[0]?.resource.meta.versionId };
}

test('backoff grows exponentially with jitter; Retry-After in seconds or as a date', () => {
  assert.equal(backoffDelay(1, 500, 30_000, () => 0), 250);
  assert.equal(backoffDelay(1, 500, 30_000, () => 0.999999), 500);
  assert.equal(backoffDelay(4, 500, 30_000, () => 0), 2000);
  assert.equal(backoffDelay(20, 500, 30_000, () => 1), 30_000);
  assert.equal(parseRetryAfter('3'), 3000);
  assert.equal(parseRetryAfter(new Date(Date.now() + 5000).toUTCString(), Date.now()) ! > 3000, true);
  assert.equal(parseRetryAfter('soon'), undefined);
});

test('send through injected faults ends with every Bundle stored exactly once', async () => {
  const today = new Date().toISOString().slice(0, 10);
  const docs = generateUsagers({ count: 10, seed: 'send', endDate: today });
  const bundles = docs.map((d) => ({ id: d.usager.idLocal, finess: d.structure.finess, bundle: buildBundle(d).bundle }));
  // An invalid Bundle: a gender outside the required value set.
  const invalid = structuredClone(bundles[9]);
  invalid.id = 'invalid';
  const pat = invalid.bundle.entry.find((e) => e.resource.resourceType === 'Patient')!.resource;
  pat.identifier.find((i: any) => i.system === BID.localUsager).value = `3${invalid.finess}/invalid`;
  pat.gender = 'homme';
  const [b503, bDrop, b429, bLost, bDown] = bundles;
  plan.set(b503.id, ['503']);
  plan.set(bDrop.id, ['drop', '503']);
  plan.set(b429.id, ['429']);
  plan.set(bLost.id, ['drop-after']);
  plan.set(bDown.id, ['503', '503', '503', '503', '503', '503']);

  // Files on disk: a folder of .json and one NDJSON file, as a vendor would pass them.
  const dir = mkdtempSync(join(tmpdir(), 'tddui-send-'));
  try {
    mkdirSync(join(dir, 'folder'));
    bundles.slice(0, 6).forEach((b, i) => writeFileSync(join(dir, 'folder', `b${i}.json`), JSON.stringify(b.bundle, null, 1)));
    writeFileSync(join(dir, 'rest.ndjson'), [...bundles.slice(6), invalid].map((b) => JSON.stringify(b.bundle)).join('\n') + '\n');
    const events: SendEvent[] = [];
    const report = await sendBundles(readItems([join(dir, 'folder'), join(dir, 'rest.ndjson')]), {
      baseUrl: proxyUrl,
      token: 'test-token',
      concurrency: 3,
      retries: 4,
      baseDelayMs: 20,
      maxDelayMs: 200,
      onEvent: (e) => events.push(e),
    });

    assert.equal(report.sent, 11);
    assert.equal(report.accepted, 9, JSON.stringify(report.items.filter((i) => i.outcome !== 'accepted'), null, 1));
    assert.equal(report.rejected, 1);
    assert.equal(report.failed, 1);
    const byName = (n: string) => report.items.find((i) => i.name.endsWith(n))!;
    // The invalid Bundle: 422 with the validator's errors, sent once (a 4xx is never retried).
    const rej = byName('rest.ndjson:5');
    assert.equal(rej.outcome, 'rejected');
    assert.equal(rej.httpStatus, 422);
    assert.equal(rej.attempts, 1);
    assert.ok(rej.errors!.some((e) => /gender/.test(e)), rej.errors!.join('\n'));
    assert.equal(hits.filter((h) => h.usager === 'invalid').length, 1);
    // Retried items.
    assert.equal(byName('b0.json').attempts, 2);
    assert.equal(byName('b1.json').attempts, 3);
    assert.equal(byName('b2.json').attempts, 2);
    assert.equal(byName('b3.json').attempts, 2);
    const down = byName('b4.json');
    assert.equal(down.outcome, 'failed');
    assert.equal(down.attempts, 5);
    assert.equal(down.httpStatus, 503);
    assert.equal(hits.filter((h) => h.usager === bDown.id).length, 5);
    // Retry-After: 1 was honoured.
    const h429 = hits.filter((h) => h.usager === b429.id);
    assert.ok(h429[1].at - h429[0].at >= 990, `waited ${h429[1].at - h429[0].at} ms`);
    assert.ok(events.some((e) => e.type === 'retry' && /ECONNRESET|socket|other side closed|fetch failed/i.test(e.reason)), JSON.stringify(events.filter((e) => e.type === 'retry')));
    assert.equal(report.retries, 1 + 2 + 1 + 1 + 4);

    // Stored exactly once: one Patient per accepted usager. The Bundle whose response was lost
    // reached the server twice; the second, identical, write is a no-op (D-60): still version 1,
    // and not a second Patient.
    assert.equal(hits.filter((h) => h.usager === bLost.id).length, 2);
    const accepted = bundles.filter((b) => b !== bDown);
    for (const b of accepted) {
      const p = await patientVersion(b.id, b.finess);
      assert.equal(p.total, 1, `usager ${b.id}`);
      assert.equal(p.versionId, '1', `usager ${b.id}`);
    }
    assert.equal((await patientVersion(bDown.id, bDown.finess)).total, 0);
    assert.equal((await patientVersion('invalid', invalid.finess)).total, 0);
    // No duplicate anywhere: as many stored resources as distinct business identifiers sent.
    const distinct = new Map<string, Set<string>>();
    for (const b of accepted) {
      for (const e of b.bundle.entry) {
        const r = e.resource;
        const ids = ([] as any[]).concat(r.identifier ?? []);
        if (!ids.length || !['Patient', 'Encounter', 'Task', 'QuestionnaireResponse', 'CarePlan', 'Goal', 'ServiceRequest', 'Organization', 'Practitioner'].includes(r.resourceType)) continue;
        const key = ids.map((i) => `${i.system}|${i.value}`).sort().join(',');
        const set = distinct.get(r.resourceType) ?? new Set<string>();
        set.add(key);
        distinct.set(r.resourceType, set);
      }
    }
    for (const [type, set] of distinct) assert.equal(await count(type), set.size, type);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a 401 is a rejection (never retried) and a dead server a network failure', async () => {
  const dead = createServer((req) => req.socket.destroy());
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(dead.address() as AddressInfo).port}/fhir`;
  try {
    const r = await sendBundles([{ name: 'x', body: '{}' }], { baseUrl: url, retries: 2, baseDelayMs: 5 });
    assert.equal(r.failed, 1);
    assert.equal(r.items[0].attempts, 3);
    assert.match(r.items[0].errors![0], /^network error: /);
  } finally {
    dead.closeAllConnections();
    await new Promise((r) => dead.close(r));
  }
  const auth = createServer((_req, res) => {
    res.writeHead(401, { 'content-type': 'application/fhir+json' });
    res.end(JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login', diagnostics: 'bearer token required' }] }));
  });
  await new Promise<void>((r) => auth.listen(0, '127.0.0.1', r));
  try {
    const r = await sendBundles([{ name: 'x', body: '{}' }], { baseUrl: `http://127.0.0.1:${(auth.address() as AddressInfo).port}`, retries: 3 });
    assert.equal(r.rejected, 1);
    assert.equal(r.items[0].attempts, 1);
    assert.deepEqual(r.items[0].errors, ['bearer token required']);
  } finally {
    await new Promise((r) => auth.close(r));
  }
});

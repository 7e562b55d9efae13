// `$validate` walks the resource for text the database cannot store (NUL, lone surrogates) only
// when its JSON bytes hold an escape that could make some (jsonMayHoldUnstorable, D-346) — in a
// validation worker (a large body) and on the main thread — as the transaction checks do (D-320);
// when they do, the outcome is the one it was: those errors first, then the validator's issues.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { findUnstorableText, unstorableError } from '../fhir/text.js';
import { bigBundle } from '../testing/big-bundle.js';
import { SHARED_FHIR } from '../testing/paths.js';
import { DEFAULT_LIMITS } from './limits.js';
import { http, readExample, startTestServer, type TestServer } from './test-support.js';
import type { FromValidationWorker, ValidationWorkerSetup } from './validation-pool.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const DOC = 'DocumentReference-tddui-pp-pa-documentreference-entrant-example.json';

// The walk tests every string and property name with text.ts's regular expressions (SUSPECT, then
// UNSTORABLE), the only ones in the code naming \ud800: their test() calls are counted — with no
// hook in the code under test, so this counts on the code before D-346 as well.
const COUNTING = String.raw`
  const { workerData } = require('node:worker_threads');
  const walked = new Int32Array(workerData.walked);
  const test = RegExp.prototype.test;
  RegExp.prototype.test = function (s) {
    if (this.source.includes('\\ud800')) Atomics.add(walked, 0, 1);
    return test.call(this, s);
  };
  import(workerData.worker);
`;

/** The real validation worker, its walk counted: `validate` sends it a `$validate` body as the pool does. */
async function countingWorker(): Promise<{ validate(body: string): Promise<{ outcome: Json; walked: number }>; stop(): Promise<number> }> {
  const walked = new Int32Array(new SharedArrayBuffer(4));
  const setup: ValidationWorkerSetup & { walked: SharedArrayBuffer; worker: string } = {
    packages: [SHARED_FHIR],
    nice: 0,
    limits: DEFAULT_LIMITS,
    walked: walked.buffer as SharedArrayBuffer,
    worker: new URL('./validation-worker.js', import.meta.url).href,
  };
  const worker = new Worker(COUNTING, { eval: true, workerData: setup });
  await new Promise<void>((resolve, reject) => {
    worker.once('error', reject);
    worker.on('message', function ready(m: FromValidationWorker) {
      if (m.type === 'ready') resolve();
      else if (m.type === 'failed') reject(new Error(m.message));
      worker.off('message', ready);
    });
  });
  let id = 0;
  return {
    async validate(body) {
      const n = ++id;
      const before = Atomics.load(walked, 0);
      const r = await new Promise<FromValidationWorker & { type: 'result' }>((resolve) => {
        worker.on('message', function result(m: FromValidationWorker) {
          if (m.type === 'result' && m.id === n) {
            worker.off('message', result);
            resolve(m);
          }
        });
        worker.postMessage({ id: n, kind: 'validate', bytes: new Uint8Array(Buffer.from(body)), format: 'json' });
      });
      assert.ok(r.validated, JSON.stringify(r.error ?? r.failure));
      const o = r.validated.outcome;
      return { outcome: JSON.parse(Buffer.from(o.buffer, o.byteOffset, o.byteLength).toString('utf8')), walked: Atomics.load(walked, 0) - before };
    },
    stop: () => worker.terminate(),
  };
}

/** The same on this thread, while `fn` runs. */
async function countingHere<T>(fn: () => Promise<T>): Promise<{ value: T; walked: number }> {
  let walked = 0;
  const test = RegExp.prototype.test;
  RegExp.prototype.test = function (this: RegExp, s: string) {
    if (this.source.includes('\\ud800')) walked++;
    return test.call(this, s);
  };
  try {
    return { value: await fn(), walked };
  } finally {
    RegExp.prototype.test = test;
  }
}

describe('$validate: the resource walked for unstorable text only when its JSON bytes may hold some (D-346)', () => {
  let srv: TestServer;
  const doc = readExample(DOC) as Json;
  const nul = { ...doc, description: 'a\u0000b', content: [{ ...doc.content[0], attachment: { ...doc.content[0].attachment, 'ti\ud800tle': 'x' } }] };
  // The outcome as $validate made it before D-346: the walk's errors first, then the validator's.
  const expected = (resource: Json): Json => {
    const outcome = srv.validator.validateToOutcome(structuredClone(resource) as never) as unknown as Json;
    const errors = findUnstorableText(resource, String(resource.resourceType)).flatMap((u) => (unstorableError(u).toOutcome() as unknown as Json).issue);
    return { ...outcome, issue: [...errors, ...(outcome.issue ?? [])] };
  };

  before(async () => {
    srv = await startTestServer('embedded'); // no validation workers: $validate is answered on this thread
  });
  after(async () => srv?.stop());

  it('in a validation worker: a body without such escapes is not walked; one holding \\u0000 gets the same outcome as before', async () => {
    const w = await countingWorker();
    try {
      const bodyNul = JSON.stringify(nul);
      assert.match(bodyNul, /\\u0000/);
      const hit = await w.validate(bodyNul);
      assert.ok(hit.walked > 0, 'the counter sees the walk');
      assert.deepEqual(hit.outcome.issue.slice(0, 2).map((i: Json) => [i.severity, i.expression[0]]).sort(), [
        ['error', 'DocumentReference.content[0].attachment'],
        ['error', 'DocumentReference.description'],
      ]);
      assert.deepEqual(hit.outcome, expected(nul));
      // A surrogate pair's escapes: walked (the bytes cannot tell a pair from a lone one), nothing found.
      const pair = { ...doc, description: 'ok \u{1F600}' };
      const escapedPair = JSON.stringify(pair).replace('\u{1F600}', '\\ud83d\\ude00');
      assert.match(escapedPair, /ok \\ud83d\\ude00/);
      const other = await w.validate(escapedPair);
      assert.ok(other.walked > 0);
      assert.deepEqual(other.outcome, expected(pair));
      // Escapes that cannot make such a character: not walked.
      const escaped = JSON.stringify(doc).replace('"status":"current"', '"status":"\\u0063urrent"');
      assert.notEqual(escaped, JSON.stringify(doc));
      const plain = await w.validate(escaped);
      assert.equal(plain.walked, 0);
      assert.deepEqual(plain.outcome, expected(doc));
      // No escape at all: the same outcome, no walk — also on a large body (600 KiB).
      const clean = await w.validate(JSON.stringify(doc));
      assert.deepEqual(clean.outcome, expected(doc));
      assert.equal(clean.walked, 0, 'a body without \\u0000 or surrogate escapes is not walked');
      const large = bigBundle(600 * 1024);
      assert.doesNotMatch(large, /\\u/);
      assert.equal((await w.validate(large)).walked, 0);
    } finally {
      await w.stop();
    }
  });

  it('on the main thread: the same', async () => {
    const hit = await countingHere(() => http(`${srv.base}/$validate`, { body: JSON.stringify(nul) }));
    assert.equal(hit.value.status, 200);
    assert.ok(hit.walked > 0);
    assert.deepEqual(hit.value.json, expected(nul));
    const clean = await countingHere(() => http(`${srv.base}/DocumentReference/$validate`, { body: JSON.stringify(doc) }));
    assert.equal(clean.value.status, 200);
    assert.deepEqual(clean.value.json, expected(doc));
    assert.equal(clean.walked, 0, 'a body without \\u0000 or surrogate escapes is not walked');
    // In a Parameters body, the same.
    const wrapped = { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: nul }] };
    const inParameters = await countingHere(() => http(`${srv.base}/$validate`, { body: JSON.stringify(wrapped) }));
    assert.deepEqual(inParameters.value.json, expected(nul));
    const cleanWrapped = await countingHere(() => http(`${srv.base}/$validate`, { body: JSON.stringify({ resourceType: 'Parameters', parameter: [{ name: 'resource', resource: doc }] }) }));
    assert.deepEqual(cleanWrapped.value.json, expected(doc));
    assert.equal(cleanWrapped.walked, 0);
  });
});

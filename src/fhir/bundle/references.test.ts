// rewriteReferencesShared (D-318): the same tree as rewriteReferences' deep copy, sharing every
// part with no rewritten reference below it, the input untouched.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { EXAMPLES_DIR } from '../../testing/paths.js';
import { BundleResolver, rewriteReferences, rewriteReferencesShared, type EntryRef } from './references.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Every part of `a` that `b` shares (the same object), by path. */
function shared(a: unknown, b: unknown, path = '', out: string[] = []): string[] {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return out;
  if (a === b) return (out.push(path), out);
  for (const k of Object.keys(a)) shared((a as Json)[k], (b as Json)[k], `${path}.${k}`, out);
  return out;
}

test('rewriteReferencesShared gives rewriteReferences\' tree, copying only the way to a rewritten reference', () => {
  const files = readdirSync(EXAMPLES_DIR).filter((f) => f.startsWith('Bundle-') && f.endsWith('.json'));
  assert.ok(files.length >= 2);
  let rewritten = 0;
  let sharedParts = 0;
  for (const f of files) {
    const bundle = JSON.parse(readFileSync(join(EXAMPLES_DIR, f), 'utf8')) as Json;
    const entries = (bundle.entry ?? []) as Json[];
    const refs: EntryRef[] = entries.map((e, index) => ({ index, fullUrl: e.fullUrl, resourceType: e.resource?.resourceType, localId: e.resource?.id }));
    const resolver = new BundleResolver(refs);
    const serverRef = (i: number) => `${entries[i]!.resource.resourceType}/srv-${i}`;
    const before = JSON.stringify(bundle);
    for (const [i, e] of entries.entries()) {
      if (!e.resource) continue;
      const deep = rewriteReferences(e.resource, i, resolver, serverRef);
      const lean = rewriteReferencesShared(e.resource, i, resolver, serverRef);
      assert.deepEqual(lean, deep, `${f} entry ${i}`);
      assert.equal(JSON.stringify(lean), JSON.stringify(deep), `${f} entry ${i}: same key order`);
      if (JSON.stringify(deep) !== JSON.stringify(e.resource)) {
        rewritten++;
        assert.notEqual(lean, e.resource, 'a resource with a rewritten reference is a new object');
      } else assert.equal(lean, e.resource, 'nothing rewritten: the resource itself');
      // What is shared holds no rewritten reference: it serialises as in the input.
      for (const p of shared(lean, e.resource)) {
        sharedParts++;
        const at = (x: unknown) => p.split('.').slice(1).reduce((o: any, k) => o[k], x); // eslint-disable-line @typescript-eslint/no-explicit-any
        assert.equal(JSON.stringify(at(lean)), JSON.stringify(at(deep)));
      }
    }
    assert.equal(JSON.stringify(bundle), before, `${f}: the input is untouched`);
  }
  assert.ok(rewritten > 10, `references rewritten (${rewritten})`);
  assert.ok(sharedParts > 10, `parts shared (${sharedParts})`);
});

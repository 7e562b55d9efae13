// A large TDDUI transaction Bundle for the tests and benchmarks of issue 21 (a 40 MB Bundle read,
// validated and stored without holding the event loop): the official example repeated.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXAMPLES_DIR } from './paths.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * The official Bundle repeated with renamed ids and references until its (indented) text reaches
 * `bytes`; `distinct`: the business identifiers renamed too (each copy its own usager, stay…), so
 * the Bundle is valid and accepted (40 MB: ~14,000 entries).
 */
export function bigBundle(bytes: number, distinct = false): string {
  const tpl = JSON.parse(readFileSync(join(EXAMPLES_DIR, 'Bundle-tddui-bundle-example.json'), 'utf8')) as Json;
  const one = JSON.stringify(tpl.entry);
  const entries: Json[] = [];
  let size = 0;
  // (distinct: one Organization and one Practitioner, shared by every copy.)
  const shared = (e: Json) => distinct && (e.resource.resourceType === 'Organization' || e.resource.resourceType === 'Practitioner');
  for (let c = 0; size < bytes; c++) {
    let text = one;
    for (const e of tpl.entry as Json[]) if (!(shared(e) && c > 0)) text = text.replaceAll(`${e.resource.resourceType}/${e.resource.id}"`, `${e.resource.resourceType}/${e.resource.id}-c${c}"`);
    if (distinct) {
      text = text.replace(/"(3480787529\/[^"]*)"/g, `"$1C${c}"`);
      // A valid NIR per copy (13 digits and their key, 97 - n mod 97).
      const n = 1477204250000n + BigInt(c);
      text = text.replaceAll('"147720425367411"', `"${n}${String(97n - (n % 97n)).padStart(2, '0')}"`);
    }
    const copy = (JSON.parse(text) as Json[]).filter((e) => !(shared(e) && c > 0));
    for (const e of copy) e.resource.id = `${e.resource.id}-c${c}`;
    entries.push(...copy);
    size += JSON.stringify(copy, null, 2).length;
  }
  return JSON.stringify({ ...tpl, entry: entries }, null, 2);
}

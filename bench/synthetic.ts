// Synthetic usagers for the ingestion benchmarks: the official PP-PA Bundle with the local usager
// id 3480787529/123456789 replaced by a unique one (every business identifier is derived from
// it), and unique resource ids / fullUrls / references — each Bundle a new usager.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXAMPLES_DIR } from '../src/testing/paths.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export const TEMPLATE = readFileSync(join(EXAMPLES_DIR, 'Bundle-tddui-pp-pa-bundle-example.json'), 'utf8');
const LOCAL_ID = '3480787529/123456789';
const FINESS = LOCAL_ID.split('/')[0];

let serial = 0;

/** The official PP-PA Bundle for a new usager: unique local id, business identifiers, ids, fullUrls, references. */
export function syntheticBundle(): Json {
  const n = ++serial;
  // 9 digits like the original; starts at 200000000 so it never equals the official one.
  const local = `${FINESS}/${200000000 + n}`;
  let text = TEMPLATE.replaceAll(LOCAL_ID, local);
  const b = JSON.parse(text) as Json;
  const suffix = `-u${n}`;
  for (const e of b.entry as Json[]) {
    const r = e.resource as Json;
    const oldRef = `${r.resourceType}/${r.id}`;
    // Literal references and fullUrls carry "Type/id": rename those exact strings.
    text = text.replaceAll(`"${oldRef}"`, `"${r.resourceType}/${r.id}${suffix}"`).replaceAll(`/${oldRef}"`, `/${r.resourceType}/${r.id}${suffix}"`);
  }
  const out = JSON.parse(text) as Json;
  out.id = `${out.id}${suffix}`;
  for (const e of out.entry as Json[]) e.resource.id = `${e.resource.id}${suffix}`;
  return out;
}

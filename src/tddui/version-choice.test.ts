// D-283: when several TDDUI versions are accepted, a version that a later one may still replace
// is validated only until its first error. This must not change any report: for the official
// examples of both versions and for mutations of them (valid and invalid documents), the report
// is the one of the exhaustive validation (every version tried in full, the behaviour before
// D-283) — same verdict, version, profiles and issues — except the text of the information
// `tddui-ig-version`, which says "not valid" instead of the error count of a version stopped
// early. And the engine's validateUnlessError() answers undefined only where validate() finds an
// error, and otherwise returns exactly validate()'s findings.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import type { ValidationIssue } from '../fhir/outcome/issue.js';
import { SHARED_FHIR, TDDUI_VERSIONS, tdduiExamplesDir } from '../testing/paths.js';
import { prng } from '../testing/random.js';
import { TdduiValidator, type ValidationReport } from './validator.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = any;

const NOW = new Date('2023-05-01T00:00:00Z');
let v: TdduiValidator;
let exhaustive: TdduiValidator;

before(async () => {
  v = await TdduiValidator.create({ packages: [SHARED_FHIR], useCache: false });
  exhaustive = new TdduiValidator(v.igs.map((ig) => ig.engine), v.set);
  exhaustive.exhaustive = true;
  assert.deepEqual(v.igs.map((ig) => ig.version), ['2.3.0', '2.2.0'], 'both versions, newest first');
});

const examples = TDDUI_VERSIONS.flatMap((version) =>
  readdirSync(tdduiExamplesDir(version))
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ name: `${version}/${f}`, doc: JSON.parse(readFileSync(join(tdduiExamplesDir(version), f), 'utf8')) as Doc })),
);

/** Seeded mutations of the examples: each one small defect (or none: some stay valid). */
function mutations(): { name: string; doc: Doc }[] {
  const next = prng(13283);
  const int = (n: number) => Math.floor(next() * n);
  const out: { name: string; doc: Doc }[] = [];
  const bundles = examples.filter((e) => e.name.includes('/Bundle-'));
  const pool = [...bundles, ...bundles, ...examples];
  for (let n = 0; n < 120; n++) {
    const base = pool[int(pool.length)];
    const doc = structuredClone(base.doc);
    // Every (container, key) of the document, then one change at one of them.
    const at: { parent: Doc; key: string | number }[] = [];
    const stack: Doc[] = [doc];
    while (stack.length) {
      const o = stack.pop();
      if (o === null || typeof o !== 'object') continue;
      for (const k of Array.isArray(o) ? o.keys() : Object.keys(o)) {
        at.push({ parent: o, key: k });
        stack.push(o[k]);
      }
    }
    const { parent, key } = at[int(at.length)];
    const kind = int(6);
    if (kind === 0) Array.isArray(parent) ? parent.splice(key as number, 1) : delete parent[key];
    else if (kind === 1) parent[key] = typeof parent[key] === 'string' ? 7 : 'x';
    else if (kind === 2) parent[key] = typeof parent[key] === 'string' ? `${parent[key]}-0` : parent[key];
    else if (kind === 3 && !Array.isArray(parent)) parent[`${String(key)}Unknown`] = 'u';
    else if (kind === 4 && Array.isArray(parent)) parent.push(structuredClone(parent[key as number]));
    else if (typeof parent[key] === 'string' && /^\d{4}-\d\d/.test(parent[key])) parent[key] = '2099-01-01';
    else Array.isArray(parent) ? parent.splice(key as number, 1) : delete parent[key];
    out.push({ name: `${base.name} #${n} (${kind} at ${String(key)})`, doc });
  }
  // Defects that 2.3.0 rejects and 2.2.0 accepts, or that both reject.
  for (const e of examples.filter((x) => x.name.startsWith('2.3.0/Bundle-'))) {
    const doc = structuredClone(e.doc);
    for (const entry of doc.entry ?? []) if (entry.resource?.resourceType === 'Patient') delete entry.resource.birthDate;
    out.push({ name: `${e.name} without birthDate`, doc });
  }
  return out;
}

/** The issues with the one text D-283 changes made comparable ("N errors" of a version tried before -> "not valid"). */
function comparable(r: ValidationReport): unknown {
  const issues = r.issues.map((i: ValidationIssue) =>
    i.rule === 'tddui-ig-version' ? { ...i, message: i.message.replace(/(\d+\.\d+\.\d+): \d+ errors?/g, '$1: not valid'), messageFr: i.messageFr?.replace(/(\d+\.\d+\.\d+) : \d+ erreurs?/g, '$1 : non valide') } : i,
  );
  return { valid: r.valid, ig: r.ig, profiles: r.profiles, issues };
}

test('reports equal those of the exhaustive validation, on the official examples of 2.2.0 and 2.3.0 and their mutations', () => {
  const docs = [...examples, ...mutations()];
  let invalid = 0;
  let under220 = 0;
  for (const { name, doc } of docs) {
    const text = JSON.stringify(doc);
    for (const options of [{ now: NOW }, { now: NOW, profileOnly: true }]) {
      const mine = v.validate(doc, options);
      const reference = exhaustive.validate(doc, options);
      assert.deepEqual(comparable(mine), comparable(reference), name);
      if (!mine.valid) invalid++;
      if (mine.valid && mine.ig.endsWith('#2.2.0')) under220++;
    }
    assert.equal(JSON.stringify(doc), text, `${name}: input unchanged`);
  }
  // The comparison covered each path: accepted by the first version, by the second after the
  // first stopped early, and by none (full reports of both, the same counts as before).
  console.log(`# compared ${docs.length} documents: ${invalid} invalid reports, ${under220} accepted under 2.2.0`);
  assert.ok(invalid >= 100, `invalid documents: ${invalid}`);
  assert.ok(under220 >= 8, `accepted under 2.2.0 after 2.3.0: ${under220}`);
});

test('the information names the versions stopped early as not valid (no error count)', () => {
  const doc = examples.find((e) => e.name === '2.2.0/Bundle-tddui-pp-pa-bundle-example.json')!.doc;
  const r = v.validate(doc);
  assert.equal(r.ig, 'ans.fhir.fr.tddui#2.2.0');
  const info = r.issues.find((i) => i.rule === 'tddui-ig-version')!;
  assert.match(info.message, /under 2\.3\.0: not valid$/);
  assert.match(info.messageFr!, /selon 2\.3\.0 : non valide$/);
  // The exhaustive validation counts them (what D-283 gives up).
  assert.match(exhaustive.validate(doc).issues.find((i) => i.rule === 'tddui-ig-version')!.message, /under 2\.3\.0: \d+ errors?$/);
});

test('validateUnlessError: undefined only where validate() finds an error, else the same findings', () => {
  for (const ig of v.igs) {
    const engine = ig.engine.validator;
    for (const { name, doc } of [...examples, ...mutations()]) {
      const profiles = doc.resourceType === 'Bundle' && !doc.meta?.profile ? ['https://interop.esante.gouv.fr/ig/fhir/tddui/StructureDefinition/tddui-bundle'] : undefined;
      const full = engine.validate(doc, { profiles });
      const quick = engine.validateUnlessError(doc, { profiles });
      const blocking = full.some((i) => (i.severity === 'error' || i.severity === 'fatal') && i.rule !== 'fhir-reference-target-profile');
      if (quick === undefined) assert.ok(blocking, `${ig.version} ${name}: stopped, but validate() finds no error`);
      else {
        assert.ok(!blocking, `${ig.version} ${name}: validate() finds an error the quick run did not stop at`);
        assert.deepEqual(quick, full, `${ig.version} ${name}`);
      }
    }
  }
});

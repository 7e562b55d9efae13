// pivot → Bundle: zero validation errors, transport conventions, SSIAD window refusals and clipping,
// and the lossless round trip pivot → Bundle → pivot.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { EXAMPLES_DIR, REPO_ROOT, SHARED_FHIR } from '../../testing/paths.js';
import { TdduiValidator } from '../../tddui/validator.js';
import { issueCategory } from '../../fhir/outcome/issue.js';
import { parsePivot } from '../pivot/schema.js';
import { readBundle } from '../read/index.js';
import { BuildError, buildBundle } from './index.js';

/** Warnings that are not about the data: "could not check" notices and IG defects (issueCategory). */
export const INFRA_WARNINGS = { has: (rule: string) => issueCategory({ rule }) !== 'data' };

let v: TdduiValidator;
before(async () => {
  v = await TdduiValidator.create({ packages: [SHARED_FHIR], useCache: false });
});

const example = (name: string) => JSON.parse(readFileSync(join(REPO_ROOT, 'schemas', 'examples', name), 'utf8'));
const jsonCopy = <T>(x: T): T => JSON.parse(JSON.stringify(x));
/** The SSIAD example, moved so that its history ends `daysAgo` days before now (no window-age warning). */
function ssiadRecent(): any {
  const doc = example('ssiad.pivot.json');
  const shift = Date.now() - Date.parse('2026-11-20T12:00:00Z') - 86_400_000;
  const move = (s: string) => new Date(Date.parse(s) + shift).toISOString().replace(/\.\d{3}Z$/, 'Z');
  for (const x of [...doc.evenements, ...doc.transports]) {
    x.debut = move(x.debut);
    x.fin = move(x.fin);
  }
  return doc;
}

function assertClean(bundle: unknown, label: string): void {
  const r = v.validate(bundle);
  const bad = r.issues.filter((i) => i.severity === 'error' || i.severity === 'fatal' || (i.severity === 'warning' && !INFRA_WARNINGS.has(i.rule)));
  assert.deepEqual(bad.map((i) => `${i.rule} ${i.expression} ${i.message}`), [], `${label}: unexpected issues`);
  assert.equal(r.valid, true);
}

for (const name of ['ssiad.pivot.json', 'pp-pa.pivot.json', 'pp-ime.pivot.json']) {
  test(`${name} builds into a Bundle with zero errors (and no business-rule warning)`, () => {
    const doc = name === 'ssiad.pivot.json' ? ssiadRecent() : example(name);
    const { bundle } = buildBundle(doc);
    assertClean(bundle, name);
  });

  test(`${name}: round trip pivot → Bundle → pivot is lossless`, () => {
    const pivot = parsePivot(example(name));
    const { bundle } = buildBundle(pivot, { skipWindow: true });
    const back = readBundle(jsonCopy(bundle));
    assert.equal(back.length, 1);
    assert.deepEqual(back[0], jsonCopy(pivot));
    // And again: the rebuilt Bundle is identical (deterministic fullUrls).
    assert.deepEqual(buildBundle(back[0], { skipWindow: true }).bundle, bundle);
  });
}

test('Bundle conventions: transaction, urn:uuid fullUrls, POST to the resource type, declared profiles, resolvable references', () => {
  const { bundle } = buildBundle(example('pp-pa.pivot.json'));
  assert.equal(bundle.type, 'transaction');
  const urls = new Set(bundle.entry.map((e) => e.fullUrl));
  assert.equal(urls.size, bundle.entry.length);
  for (const e of bundle.entry) {
    assert.match(e.fullUrl, /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual(e.request, { method: 'POST', url: e.resource.resourceType });
    assert.match(e.resource.meta.profile[0], /^https:\/\/interop\.esante\.gouv\.fr\/ig\/fhir\/tddui\/StructureDefinition\/tddui-/);
  }
  const refs = JSON.stringify(bundle).match(/"reference":"[^"]*"/g) ?? [];
  assert.ok(refs.length > 20);
  for (const r of refs) assert.ok(urls.has(r.slice(13, -1)), `dangling ${r}`);
  const ids = bundle.entry.flatMap((e) => [].concat(e.resource.identifier ?? []).map((i: any) => i.value as string));
  assert.ok(ids.includes('3750000010/123456789-OBJE-1234'));
  assert.ok(ids.includes('3750000010/123456789-PPER-1234'));
  assert.ok(ids.includes('3750000010/123456789'));
});

test('SSIAD window: more than 5 weeks is refused with tddui-ssiad-window-span', () => {
  const doc = ssiadRecent();
  doc.evenements[0].debut = '2026-09-01T10:00:00+02:00';
  doc.evenements[0].fin = '2026-09-01T10:30:00+02:00';
  assert.throws(() => buildBundle(doc), (e: unknown) => {
    assert.ok(e instanceof BuildError);
    assert.equal(e.rule, 'tddui-ssiad-window-span');
    assert.match(e.message, /\[tddui-ssiad-window-span\] the events and transports of usager 194704032 span \d+ days \(2026-09-01 to .*at most 5 weeks.*--clip-window/);
    return true;
  });
});

test('SSIAD window: less than one week is refused with tddui-ssiad-window-min', () => {
  const doc = ssiadRecent();
  doc.evenements = doc.evenements.slice(0, 1);
  doc.evaluations = [];
  assert.throws(() => buildBundle(doc), (e: unknown) => e instanceof BuildError && e.rule === 'tddui-ssiad-window-min');
});

test('SSIAD window: --clip-window keeps the last 35 days and the result validates', () => {
  const doc = ssiadRecent();
  const old = { ...doc.evenements[0], id: 'old-1' };
  const first = Date.parse(doc.evenements[0].debut);
  old.debut = new Date(first - 60 * 86_400_000).toISOString();
  old.fin = new Date(first - 60 * 86_400_000 + 1800_000).toISOString();
  doc.evenements.unshift(old);
  doc.transports.push({ ...doc.transports[0], id: 'old-t', evenement: 'old-1', debut: old.debut, fin: old.fin });
  doc.evaluations[0].evenement = 'old-1';
  assert.throws(() => buildBundle(doc), BuildError);
  const r = buildBundle(doc, { clipWindow: true });
  assert.deepEqual(r.dropped.map((d) => d.split(' ').slice(0, 2).join(' ')), ['evenement old-1', 'transport old-t']);
  assert.equal(r.pivot.evaluations[0].evenement, undefined);
  assert.equal(r.pivot.evenements.length, 2);
  assertClean(r.bundle, 'clipped');
});

test('SSIAD window: an old history is built with a tddui-ssiad-window-age warning; a Bundle given to build is explained', () => {
  const r = buildBundle(example('ssiad.pivot.json'), { now: new Date('2027-03-01T00:00:00Z') });
  assert.deepEqual(r.warnings.map((w) => w.rule), ['tddui-ssiad-window-age']);
  assert.deepEqual(buildBundle(example('ssiad.pivot.json'), { now: new Date('2026-11-25T00:00:00Z') }).warnings, []);
  assert.throws(() => buildBundle(r.bundle), /this is a FHIR Bundle, not a pivot document/);
});

test('the official SSIAD Bundle reads into a pivot that builds into a valid Bundle', () => {
  const official = JSON.parse(readFileSync(join(EXAMPLES_DIR, 'Bundle-tddui-bundle-example.json'), 'utf8'));
  const [p] = readBundle(official);
  assert.equal(p.usager.idLocal, '194704032');
  assert.equal(p.usager.ins?.matricule, '147720425367411');
  assert.equal(p.structure.finess, '480787529');
  assert.equal(p.evenements.length, 1);
  // The official identifiers break the prefix rule (D-5): they are kept whole.
  assert.equal(p.evenements[0].id, '3480787529/147720425367411-EVN-12548');
  assert.deepEqual(p.transports.map((t) => t.type).sort(), ['professionnel', 'usager']);
  const { bundle } = buildBundle(p, { skipWindow: true });
  const r = v.validate(bundle);
  assert.equal(r.issues.filter((i) => i.severity === 'error').length, 0);
});

test('the official PP PA Bundle reads into a pivot with its plan', () => {
  const official = JSON.parse(readFileSync(join(EXAMPLES_DIR, 'Bundle-tddui-pp-pa-bundle-example.json'), 'utf8'));
  const [p] = readBundle(official);
  const pp = p.projetsPersonnalises[0];
  assert.equal(pp.id, '1234');
  assert.equal(pp.attentes.length, 2);
  assert.equal(pp.objectifs.length, 3);
  assert.equal(pp.besoins.length, 3);
  assert.equal(pp.moyens.length, 4);
  assert.equal(p.evaluations[0].gir, 3);
});

test('evaluation items are built in the questionnaire order, whatever the pivot order; the pivot refuses what no response can carry', () => {
  const doc = ssiadRecent();
  const aggir = doc.evaluations[0];
  aggir.variables.reverse();
  aggir.variables[0].adverbes = { spontanement: true, totalement: false };
  doc.evaluations.push(
    { id: '900001', type: 'situation-ssiad', date: aggir.date, evaluateur: aggir.evaluateur, indicateurs: [{ item: 'soins-ide', valeur: true }, { item: 'incontinence', valeur: false }] },
  );
  const { bundle } = buildBundle(doc);
  assertClean(bundle, 'reordered evaluations');
  const qrs = bundle.entry.map((e: any) => e.resource).filter((r: any) => r.resourceType === 'QuestionnaireResponse');
  const aggirQr = qrs.find((r: any) => /aggir/.test(r.questionnaire));
  assert.deepEqual(
    aggirQr.item[0].answer[0].item.map((i: any) => i.linkId).slice(0, 3),
    ['fonction-pensee', 'fonction-orientation', 'se-laver'],
  );
  assert.deepEqual(qrs.find((r: any) => /situation/.test(r.questionnaire)).item.map((i: any) => i.linkId), ['incontinence', 'soins-ide']);

  // Adverbs are answered under the modality: without one they have nowhere to go.
  const noModality = ssiadRecent();
  noModality.evaluations[0].variables[0] = { item: 'fonction-pensee', adverbes: { spontanement: true } };
  assert.throws(() => parsePivot(noModality), /variables\/0\/modalite/);
  const twice = ssiadRecent();
  twice.evaluations[0].variables.push({ item: 'fonction-pensee', modalite: 'B' });
  assert.throws(() => parsePivot(twice), /"fonction-pensee" is given twice/);
});

import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { SHARED_FHIR, TDDUI_PACKAGE_DIR } from '../../testing/paths.js';
import { loadPackages } from '../packages/loader.js';
import type { ConformanceRegistry } from '../packages/registry.js';
import { Profiles } from './profiles.js';
import { differentialIds, type ElementDefinition, type StructureDefinition } from './snapshot.js';

const TDDUI = 'https://interop.esante.gouv.fr/ig/fhir/tddui/StructureDefinition/';
let registry: ConformanceRegistry;
let profiles: Profiles;

before(async () => {
  // TDDUI 2.2.0 alone (its dependencies not loaded): the missing-base paths of the generator.
  registry = await loadPackages({ paths: [TDDUI_PACKAGE_DIR], useCache: false });
  profiles = new Profiles(registry);
});

test('with the complete packages, TDDUI profiles expand on FR Core with nothing missing', async () => {
  const full = new Profiles(await loadPackages({ igs: ['ans.fhir.fr.tddui#2.3.0', 'ans.fhir.fr.tddui#2.2.0'], paths: [SHARED_FHIR], useCache: false }));
  for (const sd of full.registry.all<StructureDefinition>('StructureDefinition').filter((x) => x.url.startsWith(TDDUI))) {
    const cp = full.get(sd.url)!;
    assert.deepEqual(cp.missing.filter((m) => m.startsWith('https://hl7.fr/') || m.includes('/annuaire/')), [], sd.url);
  }
  const ins = full.get(TDDUI + 'tddui-patient-ins')!;
  const identifier = ins.root.childIndex!.get('identifier')!.node;
  assert.ok(identifier.slices.some((s) => s.sliceName === 'INS-NIR'), 'FR Core\'s INS slices');
  assert.equal(identifier.slicing?.inferred, undefined, 'the slicing is FR Core\'s own, not inferred');
});

function el(url: string, id: string): ElementDefinition | undefined {
  return profiles.withSnapshot(url)!.snapshot!.element.find((e) => e.id === id);
}

test('every TDDUI StructureDefinition gets a snapshot; only missing bases leave notes', () => {
  const sds = registry.all<StructureDefinition>('StructureDefinition').filter((sd) => sd.url.startsWith(TDDUI));
  assert.ok(sds.length >= 45);
  for (const sd of sds) {
    const snap = profiles.snapshots.generate(sd);
    assert.ok(snap.elements.length > 1, sd.url);
    assert.equal(snap.elements[0].id, sd.type, `${sd.url} root`);
    const ids = new Set<string>();
    for (const e of snap.elements) {
      assert.ok(!ids.has(e.id), `${sd.url}: duplicate element id ${e.id}`);
      ids.add(e.id);
    }
    if (snap.missing.length === 0) assert.deepEqual(snap.notes, [], sd.url);
  }
});

test('differential constraints land in slices of expanded datatypes', () => {
  const url = TDDUI + 'tddui-goal-objectif';
  const system = el(url, 'Goal.identifier.system')!;
  assert.equal(system.patternUri, 'https://identifiant-medicosocial-objectif.esante.gouv.fr');
  assert.equal(system.min, 1);
  const disc = el(url, 'Goal.note:titreObjectif.extension:TDDUIDiscriminator.value[x]')!;
  assert.deepEqual((disc.patternCodeableConcept as { coding: { code: string }[] }).coding[0].code, 'titreObjectif');
  assert.equal(el(url, 'Goal.note:titreObjectif')!.min, 1);
  assert.equal(el(url, 'Goal.note:titreObjectif')!.max, '1');
  // Type slice of a choice element narrows its type.
  assert.deepEqual(el(url, 'Goal.start[x]:startDate')!.type!.map((t) => t.code), ['date']);
  // Base constraints are inherited.
  assert.ok(el(url, 'Goal')!.constraint!.some((c) => c.key === 'dom-2'));
});

test('a missing base (FR Core) falls back to the core type and is reported', () => {
  const cp = profiles.get(TDDUI + 'tddui-patient')!;
  assert.ok(cp.missing.includes('https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient'));
  assert.equal(cp.type, 'Patient');
  const pi = el(TDDUI + 'tddui-patient', 'Patient.identifier:PI.system')!;
  assert.equal(pi.patternUri, 'https://identifiant-medicosocial-localusager.esante.gouv.fr');
  // The slicing of Patient.identifier is FR Core's: it is inferred from the slice patterns.
  const identifier = cp.root.childIndex!.get('identifier')!.node;
  assert.equal(identifier.slicing?.inferred, true);
  assert.ok(identifier.slicing!.discriminators.some((d) => d.path === 'system'));
});

test('extension definitions: fixed url and constrained value type', () => {
  const url = TDDUI + 'tddui-birth-order';
  const value = profiles.withSnapshot(url)!.snapshot!.element.find((e) => e.path === 'Extension.value[x]')!;
  assert.deepEqual(value.type!.map((t) => t.code), ['positiveInt']);
  const u = el(url, 'Extension.url')!;
  assert.equal(u.fixedUri, url);
});

test('compiled children index JSON names, including choice types', () => {
  const cp = profiles.core('Observation')!;
  const idx = cp.root.childIndex!;
  assert.equal(idx.get('valueQuantity')?.type, 'Quantity');
  assert.equal(idx.get('valueString')?.node.name, 'value[x]');
  assert.equal(idx.get('value'), undefined);
  assert.equal(idx.get('status')?.node.min, 1);
});

test('snapshots and compiled profiles are cached', () => {
  const a = profiles.get(TDDUI + 'tddui-bundle');
  const b = profiles.get(TDDUI + 'tddui-bundle');
  assert.equal(a, b);
  const entry = a!.root.childIndex!.get('entry')!.node;
  assert.equal(entry.slices.length, 21);
  assert.deepEqual(entry.slicing!.discriminators, [{ type: 'profile', path: 'resource' }]);
});

test('supplements of a missing base fill in what the profile leaves unset, and only while the base is missing', () => {
  const INS = 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient-ins';
  const supplied = new Profiles(
    registry,
    new Map<string, ElementDefinition[]>([
      [
        INS,
        [
          // max 3 conflicts with the profile's own max 1: the profile wins.
          { id: 'Patient.identifier:INS-NIR', path: 'Patient.identifier', sliceName: 'INS-NIR', max: '3' },
          { id: 'Patient.identifier:INS-NIR.system', path: 'Patient.identifier.system', min: 1, patternUri: 'urn:oid:1.2.250.1.213.1.4.8' },
        ],
      ],
      // Goal is loaded: a supplement for it must be ignored.
      ['http://hl7.org/fhir/StructureDefinition/Goal', [{ id: 'Goal.identifier', path: 'Goal.identifier', max: '0' }]],
    ]),
  );
  const snap = supplied.withSnapshot(TDDUI + 'tddui-patient-ins')!.snapshot!.element;
  const at = (id: string) => snap.find((e) => e.id === id);
  assert.equal(at('Patient.identifier:INS-NIR.system')?.patternUri, 'urn:oid:1.2.250.1.213.1.4.8');
  assert.equal(at('Patient.identifier:INS-NIR.system')?.min, 1);
  assert.equal(at('Patient.identifier:INS-NIR')?.max, '1');
  // The slice carries the profile's constraint on the sliced element (required binding on type).
  assert.equal(at('Patient.identifier:INS-NIR.type')?.binding?.strength, 'required');
  assert.ok(supplied.get(TDDUI + 'tddui-patient-ins')!.missing.includes(INS), 'still reported as partial');
  // Without supplements the slice has no system value.
  assert.equal(el(TDDUI + 'tddui-patient-ins', 'Patient.identifier:INS-NIR.system')?.patternUri, undefined);
  const goal = supplied.withSnapshot(TDDUI + 'tddui-goal-objectif')!.snapshot!.element.find((e) => e.id === 'Goal.identifier');
  assert.notEqual(goal?.max, '0');
});

test('a differential without element ids: each element belongs to the slice last opened on its path', () => {
  const ids = differentialIds([
    { path: 'Bundle.entry', slicing: { discriminator: [{ type: 'profile', path: '$this.resource' }], rules: 'closed' } },
    { path: 'Bundle.entry', sliceName: 'Patient', min: 1, max: '1' },
    { path: 'Bundle.entry.resource', min: 1 },
    { path: 'Bundle.entry', sliceName: 'Obs1' },
    { path: 'Bundle.entry.resource' },
    { path: 'Bundle.entry.resource.id' },
    { id: 'Bundle.entry:Obs2', path: 'Bundle.entry', sliceName: 'Obs2' },
    { path: 'Bundle.entry.request' },
    { path: 'Bundle.entry' },
    { path: 'Bundle.entry.fullUrl' },
    { path: 'Bundle.type' },
  ] as unknown as ElementDefinition[]);
  assert.deepEqual(ids, [
    'Bundle.entry',
    'Bundle.entry:Patient',
    'Bundle.entry:Patient.resource',
    'Bundle.entry:Obs1',
    'Bundle.entry:Obs1.resource',
    'Bundle.entry:Obs1.resource.id',
    'Bundle.entry:Obs2',
    'Bundle.entry:Obs2.request',
    'Bundle.entry',
    'Bundle.entry.fullUrl',
    'Bundle.type',
  ]);
});

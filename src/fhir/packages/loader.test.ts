import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SHARED_FHIR } from '../../testing/paths.js';
import { loadPackages, PackageLoadError } from './loader.js';

const tmp = mkdtempSync(join(tmpdir(), 'tddui-loader-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const TDDUI_SD = 'https://interop.esante.gouv.fr/ig/fhir/tddui/StructureDefinition/tddui-patient';

test('loads a folder of packages and the base R4 definitions', async () => {
  const reg = await loadPackages({ paths: [SHARED_FHIR], useCache: false });
  const names = reg.packages.map((p) => p.name).sort();
  assert.deepEqual(names, ['ans.fhir.fr.tddui', 'ans.fr.terminologies', 'hl7.fhir.fr.core', 'hl7.fhir.r4.core']);
  assert.ok(reg.resolve(TDDUI_SD));
  assert.ok(reg.resolve('http://hl7.org/fhir/StructureDefinition/Patient'));
  assert.ok(reg.resolve('http://hl7.org/fhir/ValueSet/administrative-gender'));
  const tddui = reg.packages.find((p) => p.name === 'ans.fhir.fr.tddui')!;
  assert.ok(tddui.examples.length >= 40, 'examples are listed, not registered');
  assert.equal(reg.resolve('https://interop.esante.gouv.fr/ig/fhir/tddui/Patient/tddui-patient-example'), undefined);
  // Declared but absent dependencies are reported, not fatal.
  const missing = reg.missingPackages().map((m) => m.name).sort();
  assert.deepEqual(missing, ['hl7.fhir.uv.extensions', 'hl7.terminology.r4', 'ihe.iti.mhd']);
});

test('Medplum-specific Meta elements are not part of the base definitions', async () => {
  const reg = await loadPackages({ paths: [], useCache: false });
  const meta = reg.resolve<{ resourceType: string; snapshot: { element: { id: string }[] } }>('http://hl7.org/fhir/StructureDefinition/Meta');
  const ids = meta!.snapshot.element.map((e) => e.id);
  assert.ok(ids.includes('Meta.profile'));
  assert.ok(!ids.includes('Meta.project') && !ids.includes('Meta.compartment'));
});

test('resolves canonical|version and prefers the newest version', async () => {
  const reg = await loadPackages({ paths: [join(SHARED_FHIR, 'ans.fhir.fr.tddui')], useCache: false });
  assert.equal(reg.resolve(`${TDDUI_SD}|2.2.0`)?.version, '2.2.0');
  assert.equal(reg.resolve(`${TDDUI_SD}|2.2`)?.version, '2.2.0');
  assert.equal(reg.resolve(`${TDDUI_SD}|9.9.9`), undefined);
  reg.add({ resourceType: 'StructureDefinition', url: TDDUI_SD, version: '2.2.0-ballot', id: 'old' });
  assert.equal(reg.resolve(TDDUI_SD)?.version, '2.2.0', 'a release sorts after its ballot');
});

test('a single package folder, and dependencies from a FHIR package cache', async () => {
  const cache = join(tmp, 'cache');
  cpSync(join(SHARED_FHIR, 'hl7.fhir.fr.core'), join(cache, 'hl7.fhir.fr.core#2.1.0'), { recursive: true });
  cpSync(join(SHARED_FHIR, 'ans.fr.terminologies'), join(cache, 'ans.fr.terminologies#1.4.0'), { recursive: true });
  const reg = await loadPackages({ paths: [join(SHARED_FHIR, 'ans.fhir.fr.tddui')], cacheDir: cache });
  const names = reg.packages.map((p) => p.name);
  assert.ok(names.includes('hl7.fhir.fr.core'), 'dependency found in the cache');
  assert.ok(names.includes('ans.fr.terminologies'));
  assert.ok(reg.resolve('https://hl7.fr/ig/fhir/core/ValueSet/fr-core-vs-patient-gender-INS'));
  const without = await loadPackages({ paths: [join(SHARED_FHIR, 'ans.fhir.fr.tddui')], useCache: false });
  assert.ok(!without.packages.some((p) => p.name === 'hl7.fhir.fr.core'));
});

test('loads a .tgz package', async () => {
  const tgz = join(tmp, 'fr-core.tgz');
  execFileSync('tar', ['czf', tgz, '-C', join(SHARED_FHIR, 'hl7.fhir.fr.core'), 'package']);
  const reg = await loadPackages({ paths: [tgz], useCache: false, core: false });
  assert.equal(reg.packages[0].name, 'hl7.fhir.fr.core');
  assert.ok(reg.resolve('https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203'));
});

test('bad paths give a clear PackageLoadError', async () => {
  await assert.rejects(loadPackages({ paths: [join(tmp, 'nope')], useCache: false, core: false }), PackageLoadError);
  const empty = mkdtempSync(join(tmp, 'empty-'));
  await assert.rejects(loadPackages({ paths: [empty], useCache: false, core: false }), /No FHIR package found/);
});

test('names the package a missing canonical belongs to', async () => {
  const reg = await loadPackages({ paths: [SHARED_FHIR], useCache: false });
  assert.equal(reg.packageFor('https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient'), 'hl7.fhir.fr.core#2.1.0');
  assert.equal(reg.packageFor('https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.SimplifiedPublish.DocumentReference'), 'ihe.iti.mhd#4.2.0');
});

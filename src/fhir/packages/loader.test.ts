import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SHARED_FHIR, packageDir } from '../../testing/paths.js';
import { availableVersions, loadPackages, parsePackageRef, PackageLoadError } from './loader.js';
import { compareVersions, pickVersion } from './versions.js';

const tmp = mkdtempSync(join(tmpdir(), 'tddui-loader-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const TDDUI_SD = 'https://interop.esante.gouv.fr/ig/fhir/tddui/StructureDefinition/tddui-patient';
const FR_PATIENT = 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient';
const ids = (pkgs: { name: string; version: string }[]) => pkgs.map((p) => `${p.name}#${p.version}`).sort();

test('loads an IG and the closure of its dependencies from a package cache, and nothing else', async () => {
  const reg = await loadPackages({ igs: ['ans.fhir.fr.tddui#2.3.0'], paths: [SHARED_FHIR], useCache: false });
  assert.deepEqual(ids(reg.packages), [
    'ans.fhir.fr.annuaire#1.1.0',
    'ans.fhir.fr.tddui#2.3.0',
    'ans.fr.terminologies#1.4.0',
    'hl7.fhir.fr.core#2.1.0',
    'hl7.fhir.r4.core#4.0.1',
    'ihe.iti.mhd#4.2.0',
  ]);
  assert.deepEqual(ids(reg.store.packages), ids(reg.packages), 'no package outside the closure is read');
  assert.equal(reg.resolve(TDDUI_SD)?.version, '2.3.0');
  assert.equal(reg.resolve(FR_PATIENT)?.version, '2.1.0');
  const tddui = reg.packages.find((p) => p.name === 'ans.fhir.fr.tddui')!;
  assert.ok(tddui.examples.length >= 50, 'examples are listed, not registered');
  assert.equal(reg.resolve('https://interop.esante.gouv.fr/ig/fhir/tddui/Patient/tddui-patient-example'), undefined);
  // A dependency at a version the cache does not hold: the nearest one, said once with both versions.
  const subs = reg.substitutions.filter((s) => s.kind === 'package');
  assert.deepEqual(subs.map((s) => `${s.subject} ${s.requested}->${s.used} by ${s.requiredBy}`), [
    'ans.fr.terminologies 1.7.0->1.4.0 by ans.fhir.fr.tddui#2.3.0',
  ]);
  // Declared but absent dependencies are reported, not fatal.
  const missing = reg.missingPackages().map((m) => m.name).sort();
  assert.ok(missing.includes('hl7.terminology.r4') && missing.includes('ans.fr.nos'), missing.join());
  assert.ok(!missing.includes('hl7.fhir.fr.core') && !missing.includes('ans.fhir.fr.annuaire'));
});

test('several versions of one package side by side, each canonical resolved in the context of its package', async () => {
  const reg = await loadPackages({ igs: ['ans.fhir.fr.tddui#2.3.0', 'ans.fhir.fr.cdl#3.0.1', 'ans.fhir.fr.tddui#2.2.0'], paths: [SHARED_FHIR], useCache: false });
  const names = ids(reg.store.packages);
  for (const p of ['hl7.fhir.fr.core#2.1.0', 'hl7.fhir.fr.core#2.0.1', 'ans.fhir.fr.annuaire#1.1.0', 'ans.fhir.fr.annuaire#1.0.1', 'ans.fhir.fr.tddui#2.2.0', 'ans.fhir.fr.tddui#2.3.0']) {
    assert.ok(names.includes(p), p);
  }
  assert.ok(!names.some((n) => n.startsWith('ans.fhir.fr.cds') || n.startsWith('ans.fhir.fr.gap')), 'no IG that is not in use');
  const [t23, cdl, t22] = reg.roots.map((r) => reg.store.scopeOf(r));
  assert.equal(t23.resolve(FR_PATIENT)?.version, '2.1.0');
  assert.equal(t22.resolve(FR_PATIENT)?.version, '2.1.0');
  assert.equal(cdl.resolve(FR_PATIENT)?.version, '2.0.1', 'CdL 3.0.1 depends on FR Core 2.0.1');
  assert.equal(t22.resolve(TDDUI_SD)?.version, '2.2.0');
  assert.equal(t23.resolve(TDDUI_SD)?.version, '2.3.0');
  // From a resource: the scope of the package it comes from (an Annuaire 1.0.1 profile sees FR Core 2.0.1).
  const asPractitioner101 = cdl.resolve('https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-practitioner')!;
  assert.equal(reg.packageOf(asPractitioner101)?.version, '1.0.1');
  assert.equal(reg.scopeOf(asPractitioner101).resolve(FR_PATIENT)?.version, '2.0.1');
  const asPractitioner110 = t23.resolve('https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-practitioner')!;
  assert.equal(reg.scopeOf(asPractitioner110).resolve(FR_PATIENT)?.version, '2.1.0');
  // The view from all roots: the first root's meaning.
  assert.equal(reg.resolve(FR_PATIENT)?.version, '2.1.0');
  // all(): one resource per url in a view.
  const tddPatients = t22.all('StructureDefinition').filter((s) => s.url === TDDUI_SD);
  assert.equal(tddPatients.length, 1);
});

test('url|version: exact, partial, or the nearest loaded version recorded with both versions', async () => {
  const reg = await loadPackages({ igs: ['ans.fhir.fr.tddui#2.3.0', 'ans.fhir.fr.tddui#2.2.0'], paths: [SHARED_FHIR], useCache: false });
  assert.equal(reg.resolve(`${TDDUI_SD}|2.2.0`)?.version, '2.2.0');
  assert.equal(reg.resolve(`${TDDUI_SD}|2.3.0`)?.version, '2.3.0');
  assert.equal(reg.resolve(`${TDDUI_SD}|2.2`)?.version, '2.2.0');
  assert.equal(reg.substitutionFor(`${TDDUI_SD}|2.2.0`), undefined);
  assert.equal(reg.resolve(`${TDDUI_SD}|2.2.1`)?.version, '2.2.0', 'nearest: same major.minor');
  assert.equal(reg.resolve(`${TDDUI_SD}|9.9.9`)?.version, '2.3.0');
  const s = reg.substitutionFor(`${TDDUI_SD}|2.2.1`)!;
  assert.deepEqual([s.requested, s.used], ['2.2.1', '2.2.0']);
  reg.resolve(`${TDDUI_SD}|2.2.1`);
  assert.equal(reg.substitutions.filter((x) => x.subject === TDDUI_SD && x.requested === '2.2.1').length, 1, 'recorded once');
  reg.add({ resourceType: 'StructureDefinition', url: 'urn:test:sd', version: '2.2.0-ballot', id: 'old' });
  reg.add({ resourceType: 'StructureDefinition', url: 'urn:test:sd', version: '2.2.0', id: 'new' });
  assert.equal(reg.resolve('urn:test:sd')?.id, 'new', 'a release sorts after its ballot');
});

test('versions: order, partial match, nearest', () => {
  assert.ok(compareVersions('2.2.0', '2.2.0-ballot') > 0);
  assert.ok(compareVersions('2.10.0', '2.9.1') > 0);
  assert.deepEqual(pickVersion('1.7.0', ['1.4.0']), { version: '1.4.0', exact: false });
  assert.deepEqual(pickVersion('2.1.x', ['2.0.1', '2.1.0', '2.1.3']), { version: '2.1.3', exact: true });
  assert.deepEqual(pickVersion('latest', ['2.0.1', '2.1.0']), { version: '2.1.0', exact: true });
  assert.deepEqual(pickVersion('2.1.1', ['2.0.1', '2.1.0', '3.0.0']), { version: '2.1.0', exact: false });
  assert.deepEqual(pickVersion('2.1.1', ['2.1.0', '2.1.2']), { version: '2.1.2', exact: false }, 'a tie goes to the newer');
  assert.equal(pickVersion('1.0.0', []), undefined);
  assert.deepEqual(parsePackageRef('ans.fhir.fr.tddui#2.3.0'), { name: 'ans.fhir.fr.tddui', version: '2.3.0' });
  assert.deepEqual(parsePackageRef('hl7.fhir.fr.core'), { name: 'hl7.fhir.fr.core' });
});

test('an IG version not in the sources is a clear error naming the available versions', async () => {
  await assert.rejects(loadPackages({ igs: ['ans.fhir.fr.tddui#9.0.0'], paths: [SHARED_FHIR], useCache: false }), /available: ans\.fhir\.fr\.tddui#2\.3\.0, ans\.fhir\.fr\.tddui#2\.2\.0/);
  await assert.rejects(loadPackages({ igs: ['no.such.ig'], paths: [SHARED_FHIR], useCache: false }), PackageLoadError);
  assert.deepEqual(await availableVersions('ans.fhir.fr.tddui', { paths: [SHARED_FHIR], useCache: false }), ['2.3.0', '2.2.0']);
});

test('Medplum-specific Meta elements are not part of the base definitions', async () => {
  const reg = await loadPackages({ paths: [], useCache: false });
  const meta = reg.resolve<{ resourceType: string; snapshot: { element: { id: string }[] } }>('http://hl7.org/fhir/StructureDefinition/Meta');
  const ids = meta!.snapshot.element.map((e) => e.id);
  assert.ok(ids.includes('Meta.profile'));
  assert.ok(!ids.includes('Meta.project') && !ids.includes('Meta.compartment'));
});

test('a package folder given alone is the IG; its dependencies come from the FHIR package cache (~/.fhir/packages layout)', async () => {
  const cache = join(tmp, 'cache');
  cpSync(join(SHARED_FHIR, 'hl7.fhir.fr.core#2.1.0'), join(cache, 'hl7.fhir.fr.core#2.1.0'), { recursive: true });
  cpSync(join(SHARED_FHIR, 'hl7.fhir.fr.core#2.0.1'), join(cache, 'hl7.fhir.fr.core#2.0.1'), { recursive: true });
  const reg = await loadPackages({ paths: [packageDir('ans.fhir.fr.tddui', '2.2.0')], cacheDir: cache });
  assert.deepEqual(reg.roots.map((r) => `${r.name}#${r.version}`), ['ans.fhir.fr.tddui#2.2.0']);
  assert.ok(ids(reg.packages).includes('hl7.fhir.fr.core#2.1.0'), 'dependency found in the cache, at the declared version');
  assert.ok(!ids(reg.store.packages).includes('hl7.fhir.fr.core#2.0.1'));
  assert.ok(reg.resolve('https://hl7.fr/ig/fhir/core/ValueSet/fr-core-vs-patient-gender-INS'));
  const without = await loadPackages({ paths: [packageDir('ans.fhir.fr.tddui', '2.2.0')], useCache: false });
  assert.ok(!without.packages.some((p) => p.name === 'hl7.fhir.fr.core'));
  assert.ok(without.missingPackages().some((m) => m.name === 'hl7.fhir.fr.core' && m.requiredBy === 'ans.fhir.fr.tddui#2.2.0'));
});

test('loads a .tgz package', async () => {
  const tgz = join(tmp, 'fr-core.tgz');
  execFileSync('tar', ['czf', tgz, '-C', join(SHARED_FHIR, 'hl7.fhir.fr.core#2.1.0'), 'package']);
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
  const reg = await loadPackages({ paths: [packageDir('ans.fhir.fr.tddui', '2.2.0')], useCache: false });
  assert.equal(reg.packageFor(FR_PATIENT), 'hl7.fhir.fr.core#2.1.0');
  assert.equal(reg.packageFor('https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.SimplifiedPublish.DocumentReference'), 'ihe.iti.mhd#4.2.0');
});

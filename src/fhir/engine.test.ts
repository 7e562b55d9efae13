// Several IGs in one server: one engine per IG over one package store (the API the coordination
// volets build on). TDDUI 2.3.0 (FR Core 2.1.0) beside CdL 3.0.1 (FR Core 2.0.1, Annuaire
// 1.0.1) and CDS 2.0.1 (FR Core 2.1.0, Annuaire 1.1.0): each resource is validated in the context
// of its IG, shared packages are compiled once.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { SHARED_FHIR, packageDir } from '../testing/paths.js';
import { createEngines, type EngineSet } from './engine.js';

const FR_PATIENT = 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient';
let set: EngineSet;
before(async () => {
  set = await createEngines({ igs: ['ans.fhir.fr.tddui#2.3.0', 'ans.fhir.fr.cdl#3.0.1', 'ans.fhir.fr.cds#2.0.1'], paths: [SHARED_FHIR], useCache: false });
});

test('one engine per IG, each seeing its own dependency versions', () => {
  assert.deepEqual(set.engines.map((e) => `${e.ig?.name}#${e.ig?.version}`), ['ans.fhir.fr.tddui#2.3.0', 'ans.fhir.fr.cdl#3.0.1', 'ans.fhir.fr.cds#2.0.1']);
  const tddui = set.engineFor('ans.fhir.fr.tddui#2.3.0')!;
  const cdl = set.engineFor('ans.fhir.fr.cdl')!;
  const cds = set.engineFor('ans.fhir.fr.cds#2.0.1')!;
  assert.equal(tddui.registry.resolve(FR_PATIENT)?.version, '2.1.0');
  assert.equal(cds.registry.resolve(FR_PATIENT)?.version, '2.1.0');
  assert.equal(cdl.registry.resolve(FR_PATIENT)?.version, '2.0.1');
  // The compiled profile is the one of that version, shared where the version is the same.
  assert.equal(cdl.profiles.get(FR_PATIENT)?.version, '2.0.1');
  assert.equal(tddui.profiles.get(FR_PATIENT), cds.profiles.get(FR_PATIENT), 'FR Core 2.1.0 compiled once for TDDUI and CDS');
  assert.notEqual(tddui.profiles.get(FR_PATIENT), cdl.profiles.get(FR_PATIENT));
  // A canonical a package does not define is not borrowed from an IG that does not depend on it.
  assert.equal(cdl.registry.resolve('https://interop.esante.gouv.fr/ig/fhir/tddui/StructureDefinition/tddui-patient'), undefined);
  // Load notes: substitutions and missing packages, once each.
  const notes = set.loadNotes();
  assert.ok(notes.some((n) => /ans\.fr\.terminologies#1\.11\.1 \(required by ans\.fhir\.fr\.cdl#3\.0\.1\).*ans\.fr\.terminologies#1\.4\.0 is used instead/.test(n)), notes.join('\n'));
  assert.ok(!set.store.packages.some((p) => p.name === 'ans.fhir.fr.gap' || p.name === 'ans.fhir.fr.tddui' && p.version === '2.2.0'), 'nothing no IG in use depends on');
});

test('each volet\'s own examples validate in the context of their IG, with the verdict of the HL7 validator', () => {
  // The CDS Patient's birth place uses TRE_R13-Commune where FR Core 2.1.0 binds (required)
  // TRE_R13-CommuneOM: the reference validator reports the same error (ig-publisher-qa).
  const cases = [
    ['ans.fhir.fr.cds#2.0.1', join(packageDir('ans.fhir.fr.cds', '2.0.1'), 'example', 'Patient-cds-patient-example.json'), ['Patient.extension[1].valueAddress.extension[0].valueCoding']],
    // The cache's copy of this CdL example has a narrative <div> without the XHTML namespace
    // (transcribed from the pages; not in the HL7 validator's findings on the published one).
    ['ans.fhir.fr.cdl#3.0.1', join(packageDir('ans.fhir.fr.cdl', '3.0.1'), 'example', 'Patient-0d920958-b596-4b91-af67-9bafc707820b.json'), ['Patient.text.div']],
  ] as const;
  for (const [ig, file, expected] of cases) {
    const engine = set.engineFor(ig)!;
    const resource = JSON.parse(readFileSync(file, 'utf8'));
    const issues = engine.validator.validate(resource);
    const errors = issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');
    assert.deepEqual(errors.map((e) => e.expression), [...expected], `${ig}: ${errors.map((e) => e.message).join('; ')}`);
    assert.ok(!issues.some((i) => i.rule === 'fhir-profile-partial' || i.rule === 'fhir-profile-unknown'), `${ig}: profiles complete`);
  }
  // The same kind of birth place code, two FR Core versions: FR Core 2.0.1 (CdL) binds
  // TRE_R13-Commune, which is not in the cache: not checked, said once; FR Core 2.1.0 (CDS)
  // binds TRE_R13-CommuneOM: TRE_R13-Commune is an error.
  const cdlPatient = JSON.parse(readFileSync(cases[1][1], 'utf8'));
  const inCdl = set.engineFor('ans.fhir.fr.cdl#3.0.1')!.validator.validate(cdlPatient);
  assert.ok(inCdl.some((i) => i.rule === 'fhir-binding-not-checked' && i.message.includes('TRE_R13-Commune/FHIR/TRE-R13-Commune')), inCdl.map((i) => i.message).join('\n'));
  const inCds = set.engineFor('ans.fhir.fr.cds#2.0.1')!.validator.validate(cdlPatient);
  assert.ok(inCds.some((i) => i.rule === 'fhir-code-invalid' && i.expression === 'Patient.extension[1].valueAddress.extension[0].valueCoding'));
  const qa = readFileSync(join(packageDir('ans.fhir.fr.cds', '2.0.1'), '..', 'ig-publisher-qa', 'validation-oo.json'), 'utf8');
  assert.match(qa, /TRE-R13-Commune#29064\) was not found in the value set 'FR Core ValueSet INSEE code'/);
});

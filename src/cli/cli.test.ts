import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { jsonToXml } from '../fhir/xml/index.js';
import { EXAMPLES_DIR, REPO_ROOT, SHARED_FHIR, TDDUI_VERSIONS, tdduiExamplesDir } from '../testing/paths.js';

const CLI = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
const tmp = mkdtempSync(join(tmpdir(), 'tddui-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const SSIAD = join(EXAMPLES_DIR, 'Bundle-tddui-bundle-example.json');

test('valid official Bundle: exit 0 and a VALID report', () => {
  const r = run('validate', '--packages', SHARED_FHIR, SSIAD);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^VALID {2}.*Bundle-tddui-bundle-example\.json/m);
  assert.match(r.out, /0 errors/);
  assert.match(r.err, /Packages: hl7\.fhir\.r4\.core#4\.0\.1/);
});

test('invalid Bundle: exit 1, location and rule id in the report; JSON OperationOutcome', () => {
  const b = JSON.parse(readFileSync(SSIAD, 'utf8'));
  b.entry[1].resource.unknownThing = true;
  const file = join(tmp, 'bad.json');
  writeFileSync(file, JSON.stringify(b));
  const r = run('validate', '--packages', SHARED_FHIR, file);
  assert.equal(r.code, 1);
  assert.match(r.out, /^INVALID/m);
  assert.match(r.out, /ERROR +Bundle\.entry\[1\]\.resource\.unknownThing/);
  assert.match(r.out, /\[fhir-unknown-element\]/);
  const j = run('validate', '--packages', SHARED_FHIR, '--format', 'json', file);
  assert.equal(j.code, 1);
  const oo = JSON.parse(j.out);
  assert.equal(oo.resourceType, 'OperationOutcome');
  assert.deepEqual(oo.extension, [{ url: 'urn:tddui:validated-file', valueString: file }]);
  const issue = oo.issue.find((i: { details?: { coding?: { code: string }[] } }) => i.details?.coding?.[0].code === 'fhir-unknown-element');
  assert.deepEqual(issue.expression, ['Bundle.entry[1].resource.unknownThing']);
  assert.equal(issue.severity, 'error');
});

test('several files in json format give an array of OperationOutcomes, each naming its file; report adds the totals; the worst status wins', () => {
  const bad = join(tmp, 'bad2.json');
  writeFileSync(bad, JSON.stringify({ resourceType: 'Patient', birthDate: '2020-02-30' }));
  const r = run('validate', '--packages', SHARED_FHIR, '--format', 'json', SSIAD, bad);
  assert.equal(r.code, 1);
  const list = JSON.parse(r.out);
  assert.deepEqual(list.map((oo: { extension: { valueString: string }[] }) => oo.extension[0]!.valueString), [SSIAD, bad]);
  const rep = run('validate', '--packages', SHARED_FHIR, '--format', 'report', SSIAD, bad);
  const report = JSON.parse(rep.out);
  assert.deepEqual(report.files.map((f: { file: string; status: string }) => [f.file, f.status]), [[SSIAD, 'valid'], [bad, 'invalid']]);
  assert.equal(report.summary.files, 2);
  assert.equal(report.summary.invalid, 1);
});

test('usage errors and unreadable input: exit 2 with a clear message', () => {
  assert.equal(run().code, 2);
  assert.equal(run('frobnicate').code, 2);
  const noFile = run('validate', '--packages', SHARED_FHIR);
  assert.equal(noFile.code, 2);
  assert.match(noFile.err, /no PATH given/);
  const missing = run('validate', '--packages', SHARED_FHIR, join(tmp, 'nope.json'));
  assert.equal(missing.code, 2);
  assert.match(missing.err, /cannot read .*nope\.json: ENOENT/);
  const notJson = join(tmp, 'x.json');
  writeFileSync(notJson, '{"resourceType": ');
  // A file that is not JSON is an invalid file (its own finding), not a usage error (D-70).
  const nj = run('validate', '--packages', SHARED_FHIR, notJson);
  assert.equal(nj.code, 1);
  assert.match(nj.out, /fhir-json-syntax/);
  const badPkg = run('validate', '--packages', join(tmp, 'no-such-dir'), SSIAD);
  assert.equal(badPkg.code, 2);
  assert.match(badPkg.err, /cannot load FHIR packages: Package path not found/);
  const badFormat = run('validate', '--format', 'yaml', SSIAD);
  assert.equal(badFormat.code, 2);
  const badProfile = run('validate', '--packages', SHARED_FHIR, '--profile', 'no-such-profile', SSIAD);
  assert.equal(badProfile.code, 2);
  assert.match(badProfile.err, /unknown profile/);
});

test('XML input: an official Bundle as FHIR XML is VALID, its mutation INVALID at the same location; XML that is not FHIR is an invalid file (exit 1, D-70)', () => {
  const b = JSON.parse(readFileSync(SSIAD, 'utf8'));
  const xml = join(tmp, 'ssiad.xml');
  writeFileSync(xml, jsonToXml(b));
  const ok = run('validate', '--packages', SHARED_FHIR, xml);
  assert.equal(ok.code, 0, ok.out + ok.err);
  assert.match(ok.out, /^VALID/m);
  const at = b.entry.findIndex((e: { resource: { resourceType: string } }) => e.resource.resourceType === 'Patient');
  b.entry[at].resource.birthDate = '2020-02-30';
  const badXml = join(tmp, 'ssiad-bad.xml');
  writeFileSync(badXml, jsonToXml(b));
  const bad = run('validate', '--packages', SHARED_FHIR, '--format', 'json', badXml);
  assert.equal(bad.code, 1);
  assert.ok(JSON.parse(bad.out).issue.some((i: { expression?: string[] }) => i.expression?.[0] === `Bundle.entry[${at}].resource.birthDate`), bad.out);
  const notFhir = join(tmp, 'not-fhir.xml');
  writeFileSync(notFhir, '<?xml version="1.0"?>\n<Patient xmlns="urn:other"/>');
  const nf = run('validate', '--packages', SHARED_FHIR, notFhir);
  assert.equal(nf.code, 1);
  assert.match(nf.out, /fhir-json-syntax/);
  assert.match(nf.out, /not FHIR XML/);
});

test('package sources without a TDDUI package: plain FHIR R4 validation against the packages given', () => {
  const frCore = join(SHARED_FHIR, 'hl7.fhir.fr.core#2.1.0', 'package');
  const patient = join(tmp, 'patient.json');
  writeFileSync(patient, JSON.stringify({ resourceType: 'Patient', gender: 'female' }));
  const ok = run('validate', '--packages', frCore, patient);
  assert.equal(ok.code, 0, ok.out + ok.err);
  assert.match(ok.err, /No TDDUI package: plain FHIR R4 validation/);
  // FR Core's official name needs a family name: checked only against FR Core's profile.
  const official = join(tmp, 'patient-official.json');
  writeFileSync(official, JSON.stringify({ resourceType: 'Patient', name: [{ use: 'official', given: ['Anne'] }] }));
  assert.equal(run('validate', '--packages', frCore, official).code, 0);
  const fr = run('validate', '--packages', frCore, '--profile', 'fr-core-patient', '--format', 'json', official);
  assert.equal(fr.code, 1, fr.out + fr.err);
  assert.ok(JSON.parse(fr.out).issue.some((i: { expression?: string[] }) => i.expression?.[0]?.startsWith('Patient.name[0]')), fr.out);
  const bad = join(tmp, 'patient-bad.json');
  writeFileSync(bad, JSON.stringify({ resourceType: 'Patient', gender: 'x' }));
  assert.equal(run('validate', '--packages', frCore, bad).code, 1);
});

test('--help documents the command', () => {
  const r = run('validate', '--help');
  assert.equal(r.code, 0);
  assert.match(r.out, /Usage: tddui validate/);
  assert.match(r.out, /Exit status/);
  assert.equal(run('--help').code, 0);
});

test('every official example of TDDUI 2.2.0 and 2.3.0 is VALID through the CLI, under its own version (--ig)', () => {
  for (const version of TDDUI_VERSIONS) {
    const files = readdirSync(tdduiExamplesDir(version)).filter((f) => f.endsWith('.json') && !f.startsWith('.')).map((f) => join(tdduiExamplesDir(version), f));
    const r = run('validate', '--packages', SHARED_FHIR, '--ig', version, '--format', 'json', ...files);
    assert.equal(r.code, 0, `${version}: ${r.out.slice(0, 2000)}`);
    const list = JSON.parse(r.out) as { issue: { severity: string }[] }[];
    assert.equal(list.length, files.length);
    assert.ok(list.every((oo) => !oo.issue.some((i) => i.severity === 'error' || i.severity === 'fatal')));
  }
});

test('--ig: which versions are accepted; the report names the version; notices are folded and counted apart', () => {
  const pp22 = join(tdduiExamplesDir('2.2.0'), 'Patient-tddui-pp-pa-patient-example-pp.json');
  const both = run('validate', '--packages', SHARED_FHIR, pp22);
  assert.equal(both.code, 0, both.out);
  assert.match(both.err, /TDDUI versions accepted: 2\.3\.0, 2\.2\.0/);
  assert.match(both.err, /ans\.fr\.terminologies#1\.7\.0 \(required by ans\.fhir\.fr\.tddui#2\.3\.0\) is not in the package cache: ans\.fr\.terminologies#1\.4\.0 is used instead/);
  assert.match(both.out, /^VALID {2}.*\[ans\.fhir\.fr\.tddui#2\.2\.0\]/m);
  const only23 = run('validate', '--packages', SHARED_FHIR, '--ig', 'ans.fhir.fr.tddui#2.3.0', pp22);
  assert.equal(only23.code, 1, 'birthDate is 1..1 in 2.3.0');
  assert.match(only23.out, /ERROR +Patient\b/);
  const unknown = run('validate', '--packages', SHARED_FHIR, '--ig', '9.9.9', pp22);
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /available: ans\.fhir\.fr\.tddui#2\.3\.0, ans\.fhir\.fr\.tddui#2\.2\.0/);
  // The SSIAD Bundle: data warnings listed, notices folded per missing package, counted apart.
  const r = run('validate', '--packages', SHARED_FHIR, SSIAD);
  assert.match(r.out, /Not checked \(\d+ notices?; --notices lists them\):/);
  assert.match(r.out, /NOTICE +ans\.fr\.terminologies#1\.\d\.0 missing or partial: \d+ checks? not made/);
  assert.match(r.out, /\d+ errors?, \d+ warnings?, \d+ information messages? about the data; \d+ IG defects?; \d+ checks? not made/);
  const all = run('validate', '--packages', SHARED_FHIR, '--notices', SSIAD);
  assert.match(all.out, /\[fhir-binding-not-checked\]/);
});

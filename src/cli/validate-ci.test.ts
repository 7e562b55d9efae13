// `tddui validate` as a vendor's CI runs it, as a process: a folder tree of 1,000 generated
// Bundles (some in XML, a few broken or invalid) in one run with worker threads; the summary's
// totals against a per-file count; the JUnit report read by an XML parser; the HTML report
// opened in chromium; exit codes per --fail-on; the language; the files a folder gives.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { XMLParser } from 'fast-xml-parser';
import { chromium } from 'playwright-core';
import { jsonToXml } from '../fhir/xml/index.js';
import { buildBundle } from '../producer/build/index.js';
import { generateUsagers } from '../producer/generate/index.js';
import type { PivotInput } from '../producer/pivot/schema.js';
import { REPO_ROOT, SHARED_FHIR } from '../testing/paths.js';
import { globToRegExp, listInputFiles } from './validate-inputs.js';

const CLI = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const tmp = mkdtempSync(join(tmpdir(), 'tddui-validate-ci-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, NO_COLOR: '1', LANG: 'C.UTF-8', LC_ALL: '', LC_MESSAGES: '', ...env } });
    let out = '';
    let err = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

const TREE = join(tmp, 'exports');
const GENERATED = 1000;
const XML_EVERY = 50; // 20 of the generated Bundles written as FHIR XML
/** Files that are not valid, by name, and why. */
const BROKEN = {
  'broken/truncated.json': 'unreadable',
  'broken/empty.json': 'unreadable',
  'broken/not-closed.xml': 'unreadable',
  'broken/unknown-element.json': 'invalid',
  'broken/bad-gender.xml': 'invalid',
} as const;

/** A generated usager kept small: every list cut to its first and last item (the SSIAD window stays a week or more). */
function small(doc: PivotInput): PivotInput {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc)) out[k] = k === 'transports' ? [] : Array.isArray(v) && k !== 'professionnels' && v.length > 2 ? [v[0], v[v.length - 1]] : v;
  return out as unknown as PivotInput;
}

before(() => {
  const docs = generateUsagers({ count: GENERATED, seed: 'ci', endDate: '2026-06-30' });
  docs.forEach((doc, i) => {
    const { bundle } = buildBundle(small(doc), { source: `usager ${i}` });
    // A tree as a DUI's export job would leave it: one folder per facility.
    const dir = join(TREE, doc.structure.finess);
    mkdirSync(dir, { recursive: true });
    if (i % XML_EVERY === 0) writeFileSync(join(dir, `${i}.xml`), jsonToXml(bundle as never));
    else writeFileSync(join(dir, `${i}.json`), JSON.stringify(bundle));
  });
  const sample = buildBundle(small(docs[0]!), { source: 'sample' }).bundle as { entry: { resource: Record<string, unknown> }[] };
  mkdirSync(join(TREE, 'broken'), { recursive: true });
  writeFileSync(join(TREE, 'broken/truncated.json'), JSON.stringify(sample).slice(0, 500));
  writeFileSync(join(TREE, 'broken/empty.json'), '');
  writeFileSync(join(TREE, 'broken/not-closed.xml'), '<Bundle xmlns="http://hl7.org/fhir"><type value="transaction"/>');
  const bad = structuredClone(sample);
  bad.entry[1]!.resource.unknownThing = true;
  writeFileSync(join(TREE, 'broken/unknown-element.json'), JSON.stringify(bad));
  const noBirth = structuredClone(sample);
  const patient = noBirth.entry.find((e) => e.resource.resourceType === 'Patient')!.resource;
  patient.gender = 'femme';
  writeFileSync(join(TREE, 'broken/bad-gender.xml'), jsonToXml(noBirth as never));
  // Not taken from a folder by default: another extension, a hidden file.
  writeFileSync(join(TREE, 'README.txt'), 'export du 2026-06-30');
  writeFileSync(join(TREE, '.hidden.json'), '{');
});

interface JsonFile {
  file: string;
  status: string;
  format: string;
  errors: number;
  warnings: number;
  failed: boolean;
  outcome: { issue: { severity: string; details?: { coding?: { system: string; code: string }[] } }[] };
}

test('1,000 generated Bundles in a folder tree, some in XML, a few broken: one run, worker threads, JSON + JUnit + HTML reports that agree', { timeout: 600_000 }, async () => {
  const junitFile = join(tmp, 'junit.xml');
  const htmlFile = join(tmp, 'rapport.html');
  const r = await run(['validate', '--packages', SHARED_FHIR, '--workers', '2', '--format', 'report', '--junit', junitFile, '--html', htmlFile, TREE]);
  assert.equal(r.code, 1, r.err.slice(0, 2000));
  const report = JSON.parse(r.out) as { summary: Record<string, unknown> & { byRule: { rule: string; severity: string; count: number; files: number }[] }; files: JsonFile[] };
  const files = report.files;
  // Every file of the tree, each named, none from README.txt or a hidden file.
  assert.equal(files.length, GENERATED + Object.keys(BROKEN).length);
  assert.ok(files.every((f) => f.file.startsWith(TREE) && !f.file.endsWith('.txt') && !f.file.includes('.hidden')));
  assert.equal(files.filter((f) => f.format === 'xml').length, GENERATED / XML_EVERY + 2);
  for (const [name, status] of Object.entries(BROKEN)) {
    assert.equal(files.find((f) => f.file === join(TREE, name))?.status, status, name);
  }
  const generated = files.filter((f) => !f.file.includes('/broken/'));
  assert.ok(generated.every((f) => f.status === 'valid'), JSON.stringify(generated.find((f) => f.status !== 'valid'))?.slice(0, 2000));
  // The summary's totals are the per-file counts.
  const s = report.summary;
  assert.equal(s.files, files.length);
  assert.equal(s.valid, files.filter((f) => f.status === 'valid').length);
  assert.equal(s.invalid, files.filter((f) => f.status !== 'valid').length);
  assert.equal(s.unreadable, 3);
  assert.equal(s.failed, 5);
  assert.equal(s.errors, files.reduce((n, f) => n + f.errors, 0));
  assert.equal(s.warnings, files.reduce((n, f) => n + f.warnings, 0));
  const ruleOf = (i: JsonFile['outcome']['issue'][number]) => i.details?.coding?.find((c) => c.system === 'urn:tddui:validation-rule')?.code;
  const category = (i: JsonFile['outcome']['issue'][number]) => i.details?.coding?.find((c) => c.system === 'urn:tddui:issue-category')?.code;
  for (const c of s.byRule) {
    const sev = (i: JsonFile['outcome']['issue'][number]) => (c.severity === 'error' ? i.severity === 'error' || i.severity === 'fatal' : i.severity === 'warning' && category(i) === 'data');
    const hits = files.map((f) => f.outcome.issue.filter((i) => ruleOf(i) === c.rule && sev(i)).length);
    assert.equal(c.count, hits.reduce((a, b) => a + b, 0), c.rule);
    assert.equal(c.files, hits.filter((n) => n > 0).length, c.rule);
  }
  assert.ok(s.byRule.some((c) => c.rule === 'fhir-json-syntax' && c.count === 3));
  // The summary on stderr says the same.
  assert.match(r.err, new RegExp(`${files.length} files: ${s.valid} valid, 5 invalid, 3 not parseable`));

  // JUnit: one test case per file, one failure per error, read by an XML parser.
  const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => name === 'testcase' || name === 'failure' });
  const junit = parser.parse(readFileSync(junitFile, 'utf8')) as { testsuites: { tests: string; failures: string; testsuite: { testcase: { name: string; failure?: { type: string }[]; 'system-out'?: string }[] } } };
  const cases = junit.testsuites.testsuite.testcase;
  assert.equal(cases.length, files.length);
  assert.equal(Number(junit.testsuites.tests), files.length);
  assert.equal(Number(junit.testsuites.failures), 5);
  for (const f of files) {
    const tc = cases.find((c) => c.name === f.file);
    assert.ok(tc, f.file);
    assert.equal(tc.failure?.length ?? 0, f.errors, f.file);
  }
  assert.deepEqual(cases.find((c) => c.name === join(TREE, 'broken/unknown-element.json'))?.failure?.map((x) => x.type), ['fhir-unknown-element']);

  // HTML: one self-contained French page; chromium opens it without a console error.
  const page = readFileSync(htmlFile, 'utf8');
  assert.match(page, /<html lang="fr">/);
  assert.doesNotMatch(page, /<script|<link rel="stylesheet"|https?:\/\/[^"<]*\.(js|css)\b/);
  if (!existsSync(CHROMIUM)) return;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  try {
    const p = await browser.newPage();
    const problems: string[] = [];
    p.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text());
    });
    p.on('pageerror', (e) => problems.push(e.message));
    p.on('request', (req) => {
      if (!req.url().startsWith('file:') && !req.url().startsWith('data:')) problems.push(`fetched ${req.url()}`);
    });
    await p.goto(`file://${htmlFile}`);
    assert.deepEqual(problems, []);
    const body = await p.locator('body').innerText();
    assert.match(body, new RegExp(`${(1005).toLocaleString('fr-FR')} fichiers : ${s.valid.toLocaleString('fr-FR')} valides, 5 invalides, dont 3 illisibles`.replace(/\s/g, '\\s')));
    // Each invalid file has its report (the files' list links to it); valid files do not past 50 files.
    assert.equal(await p.locator('section.file-report').count(), 5);
    assert.match(body, /Propriété « unknownThing » non reconnue/);
    assert.match(body, /JSON mal formé \(ligne 1, colonne \d+/);
    assert.match(body, /le fichier est vide/);
    const link = p.locator('table.files a', { hasText: 'unknown-element.json' });
    await link.click();
    assert.match(p.url(), /#fichier-\d+$/);
  } finally {
    await browser.close();
  }
});

test('exit status per --fail-on: errors always fail, data warnings only with --fail-on warning; notices never', { timeout: 300_000 }, async () => {
  const dir = join(tmp, 'fail-on');
  mkdirSync(dir, { recursive: true });
  // A generated SSIAD usager whose events are older than 5 weeks: data warnings, no error.
  const doc = generateUsagers({ count: 1, seed: 'fail-on', endDate: '2025-01-31' })[0]!;
  writeFileSync(join(dir, 'old-events.json'), JSON.stringify(buildBundle(small(doc), { source: 'x' }).bundle));
  const plain = await run(['validate', '--packages', SHARED_FHIR, '--format', 'junit', '--report', join(tmp, 'fail-on.json'), dir]);
  assert.equal(plain.code, 0, plain.err);
  const json = JSON.parse(readFileSync(join(tmp, 'fail-on.json'), 'utf8')) as { files: JsonFile[] };
  assert.equal(json.files[0]!.status, 'valid');
  assert.ok(json.files[0]!.warnings > 0, 'the file has data warnings');
  assert.doesNotMatch(plain.out, /<failure/);
  assert.match(plain.out, /<system-out>WARNING /);
  const strict = await run(['validate', '--packages', SHARED_FHIR, '--fail-on', 'warning', '--format', 'junit', dir]);
  assert.equal(strict.code, 1);
  assert.equal((strict.out.match(/<failure /g) ?? []).length, json.files[0]!.warnings);
  assert.match(strict.err, /1 failing at --fail-on warning/);
  const bad = await run(['validate', '--fail-on', 'often', dir]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--fail-on must be error or warning/);
});

test('text report: the summary ends the run; --quiet lists only the failing files; French from LANG or --lang', { timeout: 300_000 }, async () => {
  const dir = join(tmp, 'text');
  mkdirSync(dir, { recursive: true });
  const docs = generateUsagers({ count: 2, seed: 'text', endDate: '2026-06-30' });
  writeFileSync(join(dir, 'a.json'), JSON.stringify(buildBundle(small(docs[0]!), { source: 'a' }).bundle));
  writeFileSync(join(dir, 'b.json'), '{"resourceType": "Bundle",');
  const en = await run(['validate', '--packages', SHARED_FHIR, '-q', dir]);
  assert.equal(en.code, 1);
  assert.doesNotMatch(en.out, /a\.json/);
  assert.match(en.out, /^INVALID {2}.*b\.json/m);
  assert.match(en.out, /2 files: 1 valid, 1 invalid, 1 not parseable \(JSON\/XML\); 1 failing at --fail-on error/);
  assert.match(en.out, /ERROR +fhir-json-syntax +1 +1/);
  const fr = await run(['validate', '--packages', SHARED_FHIR, dir], { LANG: 'fr_FR.UTF-8' });
  assert.equal(fr.code, 1);
  assert.match(fr.out, /^VALIDE {2}.*a\.json/m);
  assert.match(fr.out, /^INVALIDE {2}.*b\.json/m);
  assert.match(fr.out, /Le contenu ne peut pas être lu : JSON mal formé/);
  assert.match(fr.out, /2 fichiers : 1 valide, 1 invalide, 1 illisible \(ni JSON ni XML\) ; 1 en échec au seuil --fail-on error/);
  assert.match(fr.err, /Versions TDDUI acceptées : /);
  const forced = await run(['validate', '--packages', SHARED_FHIR, '--lang', 'en', dir], { LANG: 'fr_FR.UTF-8' });
  assert.match(forced.out, /^INVALID {2}.*b\.json/m);
});

test('paths: a folder is walked recursively with --include; a missing path is a usage error (2)', async () => {
  assert.ok(globToRegExp('*.json').test('a/b/c.json'));
  assert.ok(globToRegExp('**/*.{json,xml}').test('c.XML'));
  assert.ok(globToRegExp('exports/**/bundle-?.json').test('exports/2026/06/bundle-1.json'));
  assert.ok(!globToRegExp('exports/*.json').test('exports/2026/bundle.json'));
  const dir = join(tmp, 'paths');
  mkdirSync(join(dir, 'a', 'b'), { recursive: true });
  for (const f of ['a/x.json', 'a/b/y.xml', 'a/b/z.ndjson', 'top.json']) writeFileSync(join(dir, f), '{}');
  assert.deepEqual(listInputFiles([dir]), [join(dir, 'a/b/y.xml'), join(dir, 'a/x.json'), join(dir, 'top.json')]);
  assert.deepEqual(listInputFiles([dir], ['a/b/*']), [join(dir, 'a/b/y.xml'), join(dir, 'a/b/z.ndjson')]);
  // A file named on the command line is taken whatever its name.
  assert.deepEqual(listInputFiles([join(dir, 'a/b/z.ndjson')], ['*.xml']), [join(dir, 'a/b/z.ndjson')]);
  const missing = await run(['validate', join(dir, 'nope')]);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /cannot read .*nope: ENOENT/);
  const none = await run(['validate', '--include', '*.csv', dir]);
  assert.equal(none.code, 2);
  assert.match(none.err, /no file to validate/);
});

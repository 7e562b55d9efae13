// The producer commands end to end through the real `tddui` binary: generate → build → read,
// refusals with the rule id and exit status 1, usage errors with exit status 2.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { REPO_ROOT } from '../testing/paths.js';

const BIN = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'tddui-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The CLI in an English locale (the default of the messages follows LANG), or in `env`'s. */
function runIn(env: Record<string, string>, ...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, LC_ALL: '', LC_MESSAGES: '', LANG: 'C.UTF-8', ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
function run(...args: string[]) {
  return runIn({}, ...args);
}

test('generate writes pivots and Bundles; the same seed gives the same files', () => {
  const today = new Date().toISOString().slice(0, 10);
  assert.equal(run('generate', '--count', '3', '--seed', '9', '--end-date', today, '--out', 'a').code, 0);
  assert.equal(run('generate', '--count', '3', '--seed', '9', '--end-date', today, '--out', 'b').code, 0);
  const files = readdirSync(join(dir, 'a', 'bundles'));
  assert.equal(files.length, 3);
  for (const f of files) assert.equal(readFileSync(join(dir, 'a', 'bundles', f), 'utf8'), readFileSync(join(dir, 'b', 'bundles', f), 'utf8'));
  assert.equal(run('generate', '--count', 'x', '--out', 'c').code, 2);
});

test('build then read gives back the pivot; build output equals the generated Bundle', () => {
  const pivots = readdirSync(join(dir, 'a', 'pivot'));
  const src = join('a', 'pivot', pivots[0]);
  const built = run('build', src);
  assert.equal(built.code, 0, built.err);
  assert.deepEqual(JSON.parse(built.out), JSON.parse(readFileSync(join(dir, 'a', 'bundles', pivots[0]), 'utf8')));
  writeFileSync(join(dir, 'one.bundle.json'), built.out);
  const read = run('read', 'one.bundle.json');
  assert.equal(read.code, 0, read.err);
  const original = JSON.parse(readFileSync(join(dir, src), 'utf8'));
  const back = JSON.parse(read.out);
  assert.equal(back.usager.idLocal, original.usager.idLocal);
  assert.equal(back.evenements.length, (original.evenements ?? []).length);
  // Several inputs → NDJSON on standard output.
  const many = run('build', join('a', 'pivot'));
  assert.equal(many.code, 0, many.err);
  assert.equal(many.out.trim().split('\n').length, 3);
});

test('an invalid pivot and a too long SSIAD history exit 1 naming the field / the rule id', () => {
  const ssiad = JSON.parse(readFileSync(join(REPO_ROOT, 'schemas', 'examples', 'ssiad.pivot.json'), 'utf8'));
  ssiad.evenements.push({ ...ssiad.evenements[1], id: 'ancien', debut: '2026-08-01T10:00:00+02:00', fin: '2026-08-01T10:30:00+02:00' });
  writeFileSync(join(dir, 'long.json'), JSON.stringify(ssiad));
  const r = run('build', 'long.json');
  assert.equal(r.code, 1);
  assert.match(r.err, /long\.json: \[tddui-ssiad-window-span\]/);
  const clipped = run('build', '--clip-window', 'long.json');
  assert.equal(clipped.code, 0, clipped.err);
  assert.match(clipped.err, /clipped .*evenement ancien/);
  ssiad.usager.sexe = 'H';
  writeFileSync(join(dir, 'bad.json'), JSON.stringify(ssiad));
  const bad = run('build', 'bad.json');
  assert.equal(bad.code, 1);
  assert.match(bad.err, /\/usager\/sexe: /);
  assert.match(bad.err, /tddui build: 1 of 1 document not built/);
});

test('build and read speak French when LANG says so or with --lang fr, English with --lang en', () => {
  const ssiad = JSON.parse(readFileSync(join(REPO_ROOT, 'schemas', 'examples', 'ssiad.pivot.json'), 'utf8'));
  ssiad.usager.dateNaissance = '20/11/1940';
  ssiad.usager.sexe = 'H';
  writeFileSync(join(dir, 'bad-fr.json'), JSON.stringify(ssiad));
  const fr = runIn({ LANG: 'fr_FR.UTF-8' }, 'build', 'bad-fr.json');
  assert.equal(fr.code, 1);
  assert.match(fr.err, /^Document pivot invalide bad-fr\.json :\n/);
  assert.match(fr.err, /\/usager\/dateNaissance : /);
  assert.match(fr.err, /\/usager\/sexe : /);
  assert.match(fr.err, /tddui build : 1 document non construit sur 1\n/);
  assert.doesNotMatch(fr.err, /Invalid|expected|received|not built/);
  const flag = run('build', '--lang', 'fr', 'bad-fr.json');
  assert.equal(flag.err, fr.err);
  const en = runIn({ LANG: 'fr_FR.UTF-8' }, 'build', '--lang', 'en', 'bad-fr.json');
  assert.match(en.err, /^Invalid pivot document bad-fr\.json:\n/);
  assert.equal(run('build', '--lang', 'de', 'bad-fr.json').code, 2);
  writeFileSync(join(dir, 'not-bundle.json'), JSON.stringify({ resourceType: 'Patient' }));
  const read = run('read', '--lang', 'fr', 'not-bundle.json');
  assert.equal(read.code, 1);
  assert.equal(read.err, 'not-bundle.json : ce n’est pas un Bundle FHIR (resourceType doit valoir « Bundle »)\n');
  assert.match(run('read', 'not-bundle.json').err, /not-bundle\.json: not a FHIR Bundle/);
});

test('send: usage errors exit 2', () => {
  assert.equal(run('send', 'x.json').code, 2);
  assert.equal(run('send', '--url', 'ftp://x', 'x.json').code, 2);
  assert.equal(run('send', '--url', 'http://127.0.0.1:9/fhir', '--concurrency', '0', 'x.json').code, 2);
  assert.equal(run('send', '--url', 'http://127.0.0.1:9/fhir', 'missing.json').code, 2);
});

// Counts agree with their noun (issue 20: "1 évènements"): the plural helpers, and a scan of the
// texts people read (UI, CLI, server, coordination, notification sources) for "(s)" plurals such
// as "erreur(s)" or "2 file(s)", which must go through the helpers instead.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../../testing/paths.js';
import { countOf, plural, pluralEn } from './plural.js';

test('French takes the singular for 0 and 1, English only for 1', () => {
  assert.equal(plural(0, 'évènement', 'évènements'), '0 évènement');
  assert.equal(plural(1, 'évènement', 'évènements'), '1 évènement');
  assert.equal(plural(2, 'évènement', 'évènements'), '2 évènements');
  assert.equal(plural(1005, 'fichier', 'fichiers'), `${(1005).toLocaleString('fr-FR')} fichiers`);
  assert.equal(pluralEn(0, 'file', 'files'), '0 files');
  assert.equal(pluralEn(1, 'file', 'files'), '1 file');
  assert.equal(pluralEn(2, 'entry', 'entries'), '2 entries');
  assert.equal(countOf('fr', 1, 'entrée', 'entrées'), '1 entrée');
  assert.equal(countOf('en', 1, 'entry', 'entries'), '1 entry');
});

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? sources(join(dir, d.name)) : d.name.endsWith('.ts') && !d.name.endsWith('.test.ts') ? [join(dir, d.name)] : [],
  );
}

test('no "(s)" plural in the texts of the UI, the CLI, the server and the volets', () => {
  // A lowercase word directly followed by "(s)" and a space or punctuation, outside code such as
  // exec(s) or (s) => …; "http(s)" (a URL scheme) is not a plural.
  const PLURAL = /(?<![\w.$])(?!https?\()([a-zà-ÿ]{2,})\(s\)(?=[ ,.:)\]'`<])/g;
  const found: string[] = [];
  for (const folder of ['ui', 'cli', 'server', 'coordination', 'notification', 'ingest', 'producer']) {
    for (const file of sources(join(REPO_ROOT, 'src', folder))) {
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (/^\s*(\/\/|\*|\/\*)/.test(line)) return;
          for (const m of line.matchAll(PLURAL)) found.push(`${relative(REPO_ROOT, file)}:${i + 1}: ${m[0]}`);
        });
    }
  }
  assert.deepEqual(found, [], 'use plural() / pluralEn() from src/fhir/outcome/plural.ts');
});

// Pivot validation: clear messages naming the field (JSON pointer), and the published JSON Schema
// stays in sync with the zod schema.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../../testing/paths.js';
import { pivotJsonSchemaText } from './json-schema.js';
import { PivotError, parsePivot, safeParsePivot } from './schema.js';

const example = (name: string) => JSON.parse(readFileSync(join(REPO_ROOT, 'schemas', 'examples', name), 'utf8'));

function problems(doc: unknown): string[] {
  const r = safeParsePivot(doc);
  assert.equal(r.ok, false, 'expected the document to be refused');
  return r.ok ? [] : r.problems.map((p) => `${p.pointer}: ${p.message}`);
}

test('the example pivots are valid', () => {
  for (const f of ['ssiad.pivot.json', 'pp-pa.pivot.json', 'pp-ime.pivot.json']) parsePivot(example(f), f);
});

test('a wrong field type is reported with its JSON pointer', () => {
  const doc = example('ssiad.pivot.json');
  doc.evenements[1].debut = '20/11/2026';
  doc.usager.sexe = 'M';
  const p = problems(doc);
  assert.ok(p.some((x) => x.startsWith('/evenements/1/debut: expected a date or dateTime')), p.join('\n'));
  assert.ok(p.some((x) => x.startsWith('/usager/sexe:')), p.join('\n'));
});

test('unknown fields are refused (typos do not vanish silently)', () => {
  const doc = example('ssiad.pivot.json');
  doc.usager.prenomm = 'Jean';
  assert.deepEqual(problems(doc), ['/usager: unknown field: prenomm']);
});

test('references to missing items name the offending field', () => {
  const doc = example('ssiad.pivot.json');
  doc.transports[0].evenement = 'nope';
  doc.evenements[0].professionnels = ['899999999999'];
  const p = problems(doc);
  assert.ok(p.includes('/transports/0/evenement: no event with id "nope" in this document'), p.join('\n'));
  assert.ok(p.includes('/evenements/0/professionnels/0: no professional with id "899999999999" in this document'), p.join('\n'));
});

test('cross-field rules: birth order without INS, GIR with AGGIR variables, accordStructure, professional transport', () => {
  const doc = example('pp-pa.pivot.json');
  delete doc.usager.rangNaissance;
  delete doc.evaluations[0].gir;
  doc.evaluations[0].variables = [{ item: 'fonction-pensee', modalite: 'A' }, { item: 'se-laver-x', modalite: 'B' }];
  doc.projetsPersonnalises[0].accords = [{ type: 'usager', date: '2026-01-15', signataire: { usager: true } }];
  const p = problems(doc);
  assert.ok(p.some((x) => x.startsWith('/usager/rangNaissance: required when the usager has a birth date and no INS')), p.join('\n'));
  assert.ok(p.some((x) => x.startsWith('/evaluations/0/gir: required when AGGIR variables are given')), p.join('\n'));
  assert.ok(p.some((x) => x.startsWith('/evaluations/0/variables/1/item: "se-laver-x" is not an item of the aggir-pa questionnaire')), p.join('\n'));
  assert.ok(p.some((x) => x.startsWith('/projetsPersonnalises/0/accords: at least one agreement of type "structure"')), p.join('\n'));
  const ssiad = example('ssiad.pivot.json');
  delete ssiad.transports[0].professionnel;
  assert.ok(problems(ssiad).some((x) => x.startsWith('/transports/0/professionnel: required for a professional transport')));
});

test('PivotError lists every problem in its message', () => {
  const doc = example('ssiad.pivot.json');
  doc.structure.finess = '12345';
  assert.throws(() => parsePivot(doc, 'x.json'), (e: unknown) => {
    assert.ok(e instanceof PivotError);
    assert.match(e.message, /Invalid pivot document x\.json:\n {2}\/structure\/finess: expected a 9-character FINESS number/);
    return true;
  });
});

test('schemas/pivot.schema.json is the JSON Schema derived from the zod schema', () => {
  const published = readFileSync(join(REPO_ROOT, 'schemas', 'pivot.schema.json'), 'utf8');
  assert.equal(published, pivotJsonSchemaText(), 'stale: run `node dist/src/producer/pivot/write-schema.js`');
  const schema = JSON.parse(published);
  assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
  assert.deepEqual(schema.required, ['format', 'structure', 'usager']);
});

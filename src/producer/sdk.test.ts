// The typed SDK gives the same Bundle as `tddui build` on the same data.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../testing/paths.js';
import { BuildError, PivotError, TdduiExport, buildBundle, readBundle, type PivotInput } from './index.js';

const example = (name: string): PivotInput => JSON.parse(readFileSync(join(REPO_ROOT, 'schemas', 'examples', name), 'utf8'));

test('TdduiExport assembles the same pivot and Bundle as the JSON document', () => {
  const doc = example('pp-pa.pivot.json');
  const exp = new TdduiExport(doc.structure, doc.usager);
  doc.professionnels!.forEach((p) => exp.professionnel(p));
  doc.contacts!.forEach((c) => exp.contact(c));
  doc.documents!.forEach((d) => exp.document(d));
  doc.evaluations!.forEach((e) => exp.evaluation(e));
  doc.projetsPersonnalises!.forEach((pp) => exp.projetPersonnalise(pp));
  const { bundle, pivot } = exp.build();
  assert.deepEqual(bundle, buildBundle(doc).bundle);
  assert.deepEqual(readBundle(JSON.parse(JSON.stringify(bundle)))[0], JSON.parse(JSON.stringify(pivot)));
});

test('TdduiExport reports invalid data and business-rule refusals like the CLI', () => {
  const doc = example('ssiad.pivot.json');
  const exp = new TdduiExport(doc.structure, { ...doc.usager, sexe: 'x' as never });
  assert.throws(() => exp.toBundle(), (e: unknown) => e instanceof PivotError && e.problems[0].pointer === '/usager/sexe');
  const one = new TdduiExport(doc.structure, doc.usager)
    .professionnel(doc.professionnels![0])
    .sejour(doc.sejours![0])
    .evenement(doc.evenements![0]);
  assert.throws(() => one.toBundle(), (e: unknown) => e instanceof BuildError && e.rule === 'tddui-ssiad-window-min');
});

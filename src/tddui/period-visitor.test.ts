// D6 (tddui-period-order) has two paths: TdduiValidator checks Periods during the profile walk
// (PeriodVisitor), runTdduiRules alone walks the document itself (periodRules). Both must find
// the same inverted Periods: every Period of every official example is inverted in turn.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { EXAMPLES_DIR, SHARED_FHIR } from '../testing/paths.js';
import { runTdduiRules } from './rules/index.js';
import { TdduiValidator } from './validator.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = any;

const validator = await TdduiValidator.create({ packages: [SHARED_FHIR], useCache: false });
const NOW = new Date('2024-03-01T00:00:00Z');

/** Every object with a string `start` or `end` (the Periods of the examples), as paths of keys. */
function periodsOf(doc: Doc, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (Array.isArray(doc)) doc.forEach((v, i) => periodsOf(v, [...at, i], out));
  else if (typeof doc === 'object' && doc !== null) {
    if (typeof doc.start === 'string' || typeof doc.end === 'string') out.push(at);
    for (const [k, v] of Object.entries(doc)) periodsOf(v, [...at, k], out);
  }
  return out;
}

const d6 = (issues: { rule: string; expression: string }[]) =>
  issues.filter((i) => i.rule === 'tddui-period-order').map((i) => i.expression).sort();

test('the profile walk and the rules walk find the same inverted Periods in every official example', () => {
  let cases = 0;
  for (const file of readdirSync(EXAMPLES_DIR).filter((f) => f.endsWith('.json'))) {
    const original = JSON.parse(readFileSync(join(EXAMPLES_DIR, file), 'utf8')) as Doc;
    for (const at of periodsOf(original)) {
      const doc = structuredClone(original);
      let period = doc;
      for (const k of at) period = period[k];
      [period.start, period.end] = ['2030-01-02', '2030-01-01'];
      const byWalk = d6(runTdduiRules(doc, { now: NOW }));
      const byVisitor = d6(validator.validate(doc, { now: NOW }).issues);
      assert.equal(byVisitor.length, 1, `${file} ${at.join('.')}: ${JSON.stringify(byVisitor)}`);
      assert.deepEqual(byVisitor, byWalk, `${file} ${at.join('.')}`);
      cases++;
    }
  }
  assert.ok(cases >= 9, `only ${cases} Periods in the examples`);
});

test('the same at Periods inside datatypes and choice elements', () => {
  const bundle = JSON.parse(readFileSync(join(EXAMPLES_DIR, 'Bundle-tddui-bundle-example.json'), 'utf8')) as Doc;
  const inverted = () => ({ start: '2030-01-03T10:00:00+01:00', end: '2030-01-02' });
  const patient = bundle.entry[0].resource;
  patient.identifier[0].period = inverted();
  patient.name[0].period = inverted();
  patient.telecom = [{ system: 'phone', value: '0102030405', period: inverted() }];
  const task = bundle.entry[6].resource;
  task.input.push({ type: { text: 'x' }, valuePeriod: inverted() });
  const byWalk = d6(runTdduiRules(bundle, { now: NOW }));
  assert.deepEqual(d6(validator.validate(bundle, { now: NOW }).issues), byWalk);
  assert.deepEqual(byWalk, [
    'Bundle.entry[0].resource.identifier[0].period',
    'Bundle.entry[0].resource.name[0].period',
    'Bundle.entry[0].resource.telecom[0].period',
    `Bundle.entry[6].resource.input[${task.input.length - 1}].valuePeriod`,
  ]);
});

test('a Period of a contained resource is left to that resource (neither path reports it)', () => {
  const task: Doc = {
    resourceType: 'Task',
    status: 'draft',
    intent: 'plan',
    contained: [{ resourceType: 'Encounter', id: 'e', status: 'finished', class: { code: 'HH' }, period: { start: '2030-01-02', end: '2030-01-01' } }],
    executionPeriod: { start: '2030-01-02', end: '2030-01-01' },
  };
  assert.deepEqual(d6(runTdduiRules(task, { now: NOW })), ['Task.executionPeriod']);
  assert.deepEqual(d6(validator.validate(task, { now: NOW }).issues), ['Task.executionPeriod']);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fromOperationOutcome, hasErrors, insertSorted, sortAndDedupe, toOperationOutcome, type ValidationIssue } from './issue.js';
import { CODES } from './codes.js';
import { makeIssue } from './rule.js';
import { seededInt } from '../../testing/random.js';

const issue = (expression: string, severity: ValidationIssue['severity'] = 'error', rule = 'r'): ValidationIssue => ({
  severity,
  code: 'structure',
  rule,
  message: `m ${expression}`,
  expression,
});

test('sorts numerically by location, then severity; removes duplicates', () => {
  const sorted = sortAndDedupe([
    issue('Bundle.entry[10].resource'),
    issue('Bundle.entry[9].resource', 'warning'),
    issue('Bundle.entry[9].resource'),
    issue('Bundle.entry[2].resource.name[11]'),
    issue('Bundle.entry[2].resource.name[3]'),
    issue('Bundle.entry[9].resource'),
  ]);
  assert.deepEqual(
    sorted.map((i) => `${i.expression} ${i.severity}`),
    [
      'Bundle.entry[2].resource.name[3] error',
      'Bundle.entry[2].resource.name[11] error',
      'Bundle.entry[9].resource error',
      'Bundle.entry[9].resource warning',
      'Bundle.entry[10].resource error',
    ],
  );
});

test('OperationOutcome carries the rule id, both languages and the location', () => {
  const i = makeIssue(CODES.CARDINALITY_MIN, 'Bundle.entry[5].resource', { element: 'Goal.identifier', min: 1, count: 0 });
  const oo = toOperationOutcome([i]);
  assert.equal(oo.resourceType, 'OperationOutcome');
  const [o] = oo.issue;
  assert.equal(o.severity, 'error');
  assert.equal(o.code, 'required');
  assert.deepEqual(o.expression, ['Bundle.entry[5].resource']);
  assert.equal(o.diagnostics, 'Goal.identifier: minimum required = 1, but only found 0');
  assert.equal(o.details?.text, 'Goal.identifier : minimum requis = 1, trouvé 0');
  assert.equal(o.details?.coding?.[0].code, 'fhir-cardinality-min');
  assert.deepEqual(fromOperationOutcome(oo)[0].rule, 'fhir-cardinality-min');
  assert.equal(hasErrors([i]), true);
});

test('an empty report is an informational OperationOutcome', () => {
  const oo = toOperationOutcome([]);
  assert.equal(oo.issue.length, 1);
  assert.equal(oo.issue[0].severity, 'information');
  assert.equal(hasErrors([issue('x', 'warning')]), false);
});

test('every engine code has a unique id, an English and a French message', () => {
  const ids = new Set<string>();
  for (const rule of Object.values(CODES)) {
    assert.ok(!ids.has(rule.id), `duplicate ${rule.id}`);
    ids.add(rule.id);
    assert.match(rule.id, /^fhir-[a-z0-9-]+$/);
    assert.ok(rule.en && rule.fr && rule.summary, rule.id);
  }
});

/** sortAndDedupe against a naive reference on 300 random reports whose locations `location()` draws. */
function checkSortAgainstReference(rnd: (n: number) => number, location: () => string): void {
  const padded = (e: string) => e.replace(/\d+/g, (d) => d.padStart(10, '0'));
  const order = { fatal: 0, error: 1, warning: 2, information: 3 } as const;
  const c = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  const sev = ['fatal', 'error', 'warning', 'information'] as const;
  for (let round = 0; round < 300; round++) {
    const input: ValidationIssue[] = Array.from({ length: 1 + rnd(30) }, (_, n) => ({
      ...issue(location(), sev[rnd(4)]),
      rule: `r${rnd(3)}`,
      message: `m${rnd(2)}`,
      source: `s${n}`,
    }));
    const seen = new Set<string>();
    const expected = input
      .filter((i) => {
        const k = `${i.expression}\u0000${i.severity}\u0000${i.rule}\u0000${i.message}`;
        return seen.has(k) ? false : (seen.add(k), true);
      })
      .sort((a, b) => c(padded(a.expression), padded(b.expression)) || order[a.severity] - order[b.severity] || c(a.rule, b.rule) || c(a.message, b.message));
    assert.deepEqual(sortAndDedupe(input), expected);
  }
}

test('sortAndDedupe on random issues: same order and survivors as a naive reference', () => {
  const rnd = seededInt(7);
  const parts = ['Bundle', '.entry[', ']', '.resource', '.', 'a', 'B', '0', '1', '9', '10', '123', '[', ' ', '/'];
  checkSortAgainstReference(rnd, () => Array.from({ length: 1 + rnd(6) }, () => parts[rnd(parts.length)]).join(''));
});

// Locations shaped like a Bundle report's (entry indexes of one and two digits, nested
// indexes), with the ones that sort before, between and after the entries.
test('sortAndDedupe on Bundle-shaped reports: same order and survivors as a naive reference', () => {
  const rnd = seededInt(11);
  const others = ['Bundle', 'Bundle.entry', 'Bundle.type', 'Bundle.identifier.value', 'Bundle.timestamp', 'Bundle.entry[x]', 'Bundle.entry[1234567890].resource', 'Bundle.entry[]', 'Patient.name[2]', 'Bundle.entry[03].resource'];
  const tails = ['', '.resource', '.resource.identifier[0].value', '.resource.identifier[10].value', '.resource.identifier[2].value', '.fullUrl', '.request.url', '.resource.extension[1]', '.resource.meta.profile[0]'];
  checkSortAgainstReference(rnd, () =>
    rnd(12) === 0 ? others[rnd(others.length)] : `Bundle.entry[${rnd(rnd(2) === 0 ? 4 : 40)}]${tails[rnd(tails.length)]}`,
  );
});

test('insertSorted(sorted, extra) equals sortAndDedupe([...sorted, ...extra]) on random reports', () => {
  const rnd = seededInt(283);
  const sev = ['fatal', 'error', 'warning', 'information'] as const;
  const locations = ['Bundle', 'Bundle.entry[0].resource', 'Bundle.entry[2].resource', 'Bundle.entry[10].resource', 'Bundle.entry[10].resource.name[1]', 'Patient', ''];
  const make = (n: number): ValidationIssue[] =>
    Array.from({ length: n }, (_, k) => ({ ...issue(locations[rnd(locations.length)], sev[rnd(4)]), rule: `r${rnd(3)}`, message: `m${rnd(2)}`, source: `s${k}` }));
  for (let round = 0; round < 500; round++) {
    const sorted = sortAndDedupe(make(rnd(40)));
    const extra = make(1 + rnd(3));
    assert.deepEqual(insertSorted(sorted, extra), sortAndDedupe([...sorted, ...extra]));
  }
});

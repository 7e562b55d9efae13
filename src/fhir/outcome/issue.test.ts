import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fromOperationOutcome, hasErrors, insertSorted, operationOutcomeBytes, sortAndDedupe, toOperationOutcome, type ValidationIssue } from './issue.js';
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

/** What operationOutcomeBytes must give: the OperationOutcome's JSON as UTF-8. */
const reference = (issues: readonly ValidationIssue[]) => Buffer.from(JSON.stringify(toOperationOutcome(issues)));

test('operationOutcomeBytes: the bytes of JSON.stringify(toOperationOutcome) when issues share a message but not the rest', () => {
  // One English message under every variation of the other fields, one report after the other:
  // the kept head of one issue must never stand for another's (a key on the message alone, or
  // without any one of the fields compared, fails here).
  const base: ValidationIssue = { severity: 'warning', code: 'value', rule: 'fhir-code-unknown', message: 'The same text', messageFr: 'Le même texte', expression: 'Patient.gender', source: 'http://x/SD' };
  const variants: ValidationIssue[] = [
    base,
    { ...base, severity: 'error' },
    { ...base, code: 'code-invalid' },
    { ...base, rule: 'fhir-code-not-in-extensible-ig-defect' },
    { ...base, rule: CODES.PROFILE_UNKNOWN.id },
    { ...base, source: undefined },
    { ...base, source: 'http://y/SD' },
    { ...base, messageFr: undefined },
    { ...base, messageFr: 'Un autre texte' },
    { ...base, expression: '' },
    { ...base, expression: 'Patient.name[0].given[1]' },
  ];
  for (const v of variants) assert.deepEqual(operationOutcomeBytes([v]), reference([v]), JSON.stringify(v));
  assert.deepEqual(operationOutcomeBytes(variants), reference(variants));
  assert.deepEqual(operationOutcomeBytes([...variants].reverse()), reference([...variants].reverse()));
});

test('operationOutcomeBytes on random reports: the same bytes as JSON.stringify(toOperationOutcome), in a buffer of its own', () => {
  const rnd = seededInt(352);
  const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)]!;
  const severities = ['fatal', 'error', 'warning', 'information'] as const;
  const codes = ['invalid', 'structure', 'value', 'invariant', 'code-invalid', 'not-found', 'informational'] as const;
  // Rule ids of each category (data, not-checked, ig-defect) and one unknown to the catalogue.
  const rules = [CODES.CARDINALITY_MIN.id, CODES.PROFILE_UNKNOWN.id, 'fhir-code-not-in-extensible-ig-defect', 'tddui-whatever'];
  // Texts JSON must escape or encode: quotes, backslashes, controls, line separators, accents, astral and lone surrogates.
  const texts = ['Constraint dom-6 failed', 'Contrainte « dom-6 » non respectée', 'a "quoted" \\ text', 'tab\there\u0001', 'line\u2028sep', 'emoji 😀', 'lone \ud800 surrogate', ''];
  const maybe = <T>(x: T): T | undefined => (rnd(3) === 0 ? undefined : x);
  for (let round = 0; round < 400; round++) {
    const issues: ValidationIssue[] = Array.from({ length: rnd(40) }, () => {
      const i: ValidationIssue = { severity: pick(severities), code: pick(codes), rule: pick(rules), message: pick(texts), expression: pick(['', 'Bundle', 'Bundle.entry[3].resource', 'Bundle.entry[10].resource.extension[0]', 'Patient.é"x"', 'a\\b']) };
      const fr = maybe(pick(texts));
      if (fr !== undefined) i.messageFr = fr;
      const source = maybe(pick(['', 'http://hl7.org/fhir/StructureDefinition/DomainResource', 'docs/decisions.md D-26']));
      if (source !== undefined) i.source = source;
      return i;
    });
    const bytes = operationOutcomeBytes(issues);
    assert.deepEqual(bytes, reference(issues), `round ${round}`);
    // Movable to another thread as it is (validation-pool's movable): it owns its buffer whole.
    assert.equal(bytes.byteOffset, 0);
    assert.equal(bytes.buffer.byteLength, bytes.byteLength);
  }
  // More distinct texts than are kept: the cache is emptied on the way, the bytes unchanged.
  const many: ValidationIssue[] = Array.from({ length: 5000 }, (_, k) => ({ severity: 'information', code: 'informational', rule: 'r', message: `text ${k % 4500}`, expression: `X.y[${k}]` }));
  assert.deepEqual(operationOutcomeBytes(many), reference(many));
  assert.deepEqual(operationOutcomeBytes(many.slice(0, 10)), reference(many.slice(0, 10)));
});

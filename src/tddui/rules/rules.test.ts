// Unit tests of the TDDUI business rules: the identifier arithmetic (NIR key with Corsica,
// FINESS Luhn key, local id / RPPS / ADELI / idNatSt layouts) and the rules run on small
// hand-made resources (period order, birth order, SSIAD window). Expected keys were computed
// independently of the code under test (by hand / a separate script), not with it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ValidationIssue } from '../../fhir/outcome/issue.js';
import { dateBounds } from './dates.js';
import {
  checkFiness,
  checkIdNatPs,
  checkIdNatSt,
  finessOfLocalId,
  luhnKey,
  nirKey,
  parseNir,
  SYSTEMS,
} from './identifiers.js';
import { runTdduiRules } from './index.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = any;

const BIRTH_ORDER = 'https://interop.esante.gouv.fr/ig/fhir/tddui/StructureDefinition/tddui-birth-order';
const EVENT = 'https://identifiant-medicosocial-evenement.esante.gouv.fr';
const TRANSPORT_USAGER = 'https://identifiant-medicosocial-transportusager.esante.gouv.fr';
const NOW = new Date('2024-03-01T00:00:00Z');

function rules(doc: unknown, now = NOW): ValidationIssue[] {
  const out = runTdduiRules(doc, { now });
  assert.deepEqual(out.filter((i) => i.rule === 'tddui-rule-error'), [], 'a rule failed on its input');
  return out;
}

function at(issues: ValidationIssue[], rule: string): string[] {
  return issues.filter((i) => i.rule === rule).map((i) => i.expression);
}

// ------------------------------------------------------------------------------- NIR

test('NIR key: 97 - (13-digit number mod 97)', () => {
  assert.equal(nirKey('1477204253674'), 30); // the IG's NIR body (the IG writes key 11: defect D-1)
  assert.equal(nirKey('2690549588157'), 80);
  assert.equal(nirKey('1850519123456'), 33);
  // A number that is a multiple of 97 has key 97, not 0.
  assert.equal(nirKey('0000000000097'), 97);
});

test('NIR key: Corsica 2A counts as 19 and 2B as 18', () => {
  assert.equal(nirKey('185052A123456'), 33);
  assert.equal(nirKey('185052A123456'), nirKey('1850519123456'));
  assert.equal(nirKey('285052B123456'), 10);
  assert.equal(nirKey('285052B123456'), nirKey('2850518123456'));
  assert.notEqual(nirKey('185052B123456'), nirKey('185052A123456'));
});

test('NIR format: sex digit, 2A/2B department, 15 characters', () => {
  const p = parseNir('185052A12345633');
  assert.ok(p);
  assert.equal(p.sex, '1');
  assert.equal(p.year, '85');
  assert.equal(p.month, '05');
  assert.equal(p.department, '2A');
  assert.equal(p.key, 33);
  assert.equal(p.numeric, '1850519123456');
  assert.equal(parseNir('285052B12345610')?.numeric, '2850518123456');
  for (const bad of ['', '14772042536743', '1477204253674300', '547720425367430', '1477204253674AB', '18505 2A1234563', '185052C12345633']) {
    assert.equal(parseNir(bad), undefined, bad);
  }
  // Sex digits 3/4 (temporary) and 7/8 (NIA) are well-formed.
  for (const s of ['3', '4', '7', '8']) assert.ok(parseNir(`${s}47720425367430`), s);
});

test('NIR rules on a Patient: format, key, consistency with gender and birth date', () => {
  const patient = (value: string, extra: Doc = {}) => ({
    resourceType: 'Patient',
    identifier: [{ system: SYSTEMS.INS_NIR, value }],
    ...extra,
  });
  assert.deepEqual(rules(patient('147720425367430')), []);
  assert.deepEqual(rules(patient('185052A12345633', { gender: 'male', birthDate: '1985-05-02' })), []);
  assert.deepEqual(at(rules(patient('147720425367411')), 'tddui-nir-key'), ['Patient.identifier[0].value']);
  assert.deepEqual(at(rules(patient('185052A12345634')), 'tddui-nir-key'), ['Patient.identifier[0].value']);
  assert.deepEqual(at(rules(patient('14772042536743')), 'tddui-nir-format'), ['Patient.identifier[0].value']);
  const key = rules(patient('147720425367411')).find((i) => i.rule === 'tddui-nir-key')!;
  assert.match(key.message, /30/, 'the message gives the expected key');
  assert.deepEqual(at(rules(patient('147720425367430', { gender: 'female' })), 'tddui-nir-consistency'), ['Patient.identifier[0].value']);
  assert.deepEqual(at(rules(patient('147720425367430', { birthDate: '1948-07-01' })), 'tddui-nir-consistency'), ['Patient.identifier[0].value']);
  // Month 72 is an "unknown month" code: never compared; a real month (05) is.
  assert.deepEqual(at(rules(patient('147720425367430', { birthDate: '1947-08-01' })), 'tddui-nir-consistency'), []);
  assert.deepEqual(at(rules(patient('185051912345633', { birthDate: '1985-06-01' })), 'tddui-nir-consistency'), ['Patient.identifier[0].value']);
  assert.deepEqual(rules(patient('185051912345633', { birthDate: '1985-05-31' })), []);
  assert.deepEqual(rules(patient('147720425367430', { gender: 'male', birthDate: '1947-07-01' })), []);
  // NIA systems are checked the same way.
  const nia = { resourceType: 'Patient', identifier: [{ system: SYSTEMS.INS_NIA, value: '747720425367411' }] };
  assert.deepEqual(at(rules(nia), 'tddui-nir-key'), ['Patient.identifier[0].value']);
});

// ------------------------------------------------------------------------------- FINESS

test('Luhn key of FINESS bodies', () => {
  assert.equal(luhnKey('75071218'), 4); // 750712184 (a real FINESS)
  assert.equal(luhnKey('69078181'), 0); // 690781810
  assert.equal(luhnKey('48078752'), 2); // the IG's 480787529 should end in 2 (defect D-9)
  assert.equal(luhnKey('01000000'), 8);
  assert.equal(luhnKey(''), 0);
});

test('FINESS check: format, Luhn key, Corsica', () => {
  assert.deepEqual(checkFiness('750712184'), { ok: true });
  assert.deepEqual(checkFiness('690781810'), { ok: true });
  assert.deepEqual(checkFiness('480787529'), { ok: false, reason: 'key', expected: 2, found: 9 });
  assert.deepEqual(checkFiness('750712185'), { ok: false, reason: 'key', expected: 4, found: 5 });
  for (const bad of ['75071218', '7507121840', '75O712184', '', '2C0712184']) {
    assert.deepEqual(checkFiness(bad), { ok: false, reason: 'format' }, bad);
  }
  assert.deepEqual(checkFiness('2A0000123'), { ok: true }, 'Corsican FINESS: format only');
});

// ---------------------------------------------------------------------- local usager id

test('local usager identifier: 3 + FINESS + "/" + local id', () => {
  assert.equal(finessOfLocalId('3750712184/123'), '750712184');
  assert.equal(finessOfLocalId('32A0000123/x'), '2A0000123');
  for (const bad of ['750712184/123', '3750712184', '3750712184/', '3750712184/ x', '375071218/1', '4750712184/1']) {
    assert.equal(finessOfLocalId(bad), undefined, bad);
  }
  const patient = (value: string) => ({
    resourceType: 'Patient',
    identifier: [{ system: SYSTEMS.LOCAL_USAGER, value }],
    birthDate: '1950',
    _birthDate: { extension: [{ url: BIRTH_ORDER, valuePositiveInt: 1 }] },
  });
  assert.deepEqual(rules(patient('3750712184/u1')), []);
  assert.deepEqual(at(rules(patient('u1')), 'tddui-local-id-format'), ['Patient.identifier[0].value']);
  assert.deepEqual(at(rules(patient('3750712185/u1')), 'tddui-finess-key'), ['Patient.identifier[0].value']);
});

// ------------------------------------------------------------------------- RPPS / ADELI

test('idNatPs shapes: 8 + RPPS (11 digits), 0 + ADELI (9), 3 + FINESS/id', () => {
  assert.deepEqual(checkIdNatPs('810101234567'), { ok: true });
  assert.deepEqual(checkIdNatPs('0751234567'), { ok: true });
  assert.deepEqual(checkIdNatPs('075123456A'), { ok: true });
  assert.deepEqual(checkIdNatPs('3750712184/pro-1'), { ok: true });
  assert.deepEqual(checkIdNatPs('10101234567'), { ok: false, bareRpps: true });
  for (const bad of ['81010123456', '8101012345678', '075123456', '07512345678', '1751234567', '8abcdefghijk', '']) {
    assert.equal(checkIdNatPs(bad).ok, false, bad);
  }
  const practitioner = (value: string) => ({ resourceType: 'Practitioner', identifier: [{ system: SYSTEMS.ID_NAT_PS, value }] });
  assert.deepEqual(rules(practitioner('810101234567')), []);
  const bare = rules(practitioner('10101234567'));
  assert.deepEqual(at(bare, 'tddui-idnatps-format'), ['Practitioner.identifier[0].value']);
  assert.match(bare[0].message, /prefix it with "8"/);
  assert.deepEqual(at(rules(practitioner('07512345')), 'tddui-idnatps-format'), ['Practitioner.identifier[0].value']);
  assert.deepEqual(at(rules(practitioner('3480787529/p')), 'tddui-finess-key'), ['Practitioner.identifier[0].value']);
});

test('idNatSt shapes: 1 + FINESS, 2 + SIREN, 3 + SIRET, 4 + RPPS/rang, 5 + ADELI/rang', () => {
  assert.deepEqual(checkIdNatSt('1750712184'), { ok: true, finess: '750712184' });
  assert.equal(checkIdNatSt('2123456789').ok, true);
  assert.equal(checkIdNatSt('312345678900012').ok, true);
  assert.equal(checkIdNatSt('410101234567/1').ok, true);
  assert.equal(checkIdNatSt('5751234567/2').ok, true);
  for (const bad of ['750712184', '175071218', '212345678', '410101234567', '6123']) assert.equal(checkIdNatSt(bad).ok, false, bad);
  const org = (value: string) => ({ resourceType: 'Organization', identifier: [{ system: SYSTEMS.ID_NAT_ST, value }] });
  assert.deepEqual(rules(org('1750712184')), []);
  assert.deepEqual(at(rules(org('1750712185')), 'tddui-finess-key'), ['Organization.identifier[0].value']);
  assert.deepEqual(at(rules(org('750712184')), 'tddui-idnatst-format'), ['Organization.identifier[0].value']);
});

// ------------------------------------------------------------------------------- periods

test('dateBounds: partial dates cover their whole year/month/day', () => {
  assert.deepEqual(dateBounds('2023'), [Date.UTC(2023, 0, 1), Date.UTC(2024, 0, 1) - 1]);
  assert.deepEqual(dateBounds('2023-02'), [Date.UTC(2023, 1, 1), Date.UTC(2023, 2, 1) - 1]);
  assert.deepEqual(dateBounds('2023-02-28'), [Date.UTC(2023, 1, 28), Date.UTC(2023, 2, 1) - 1]);
  const t = Date.parse('2023-04-14T10:00:00+02:00');
  assert.deepEqual(dateBounds('2023-04-14T10:00:00+02:00'), [t, t]);
  for (const bad of [undefined, 12, 'x', '2023-4-1', '']) assert.equal(dateBounds(bad), undefined, String(bad));
});

test('period order: start after end is reported at the Period, wherever it is', () => {
  const enc = (start: string, end: string) => ({ resourceType: 'Encounter', period: { start, end } });
  assert.deepEqual(at(rules(enc('2023-04-15', '2023-04-14')), 'tddui-period-order'), ['Encounter.period']);
  assert.deepEqual(at(rules(enc('2023-04-14T12:00:00Z', '2023-04-14T11:59:59Z')), 'tddui-period-order'), ['Encounter.period']);
  // Time zones are compared as instants: 10:00+02:00 is before 09:00Z.
  assert.deepEqual(rules(enc('2023-04-14T10:00:00+02:00', '2023-04-14T09:00:00Z')), []);
  // Partial dates: "2023-04" may end on 2023-04-14 (the ranges overlap).
  assert.deepEqual(rules(enc('2023-04', '2023-04-14')), []);
  assert.deepEqual(rules(enc('2023-04-14', '2023-04-14')), []);
  const task = { resourceType: 'Task', input: [{ valuePeriod: { start: '2024', end: '2023' } }] };
  assert.deepEqual(at(rules(task), 'tddui-period-order'), ['Task.input[0].valuePeriod']);
});

// --------------------------------------------------------------------------- birth order

test('birth order: required when the Patient has no NIR, range 1..999', () => {
  const noNir = { resourceType: 'Patient', birthDate: '1950-01-01' };
  assert.deepEqual(at(rules(noNir), 'tddui-birth-order-required'), ['Patient.birthDate']);
  const withNir = { ...noNir, identifier: [{ system: SYSTEMS.INS_NIR, value: '150017512345678' }] };
  assert.deepEqual(at(rules(withNir), 'tddui-birth-order-required'), []);
  const withOrder = (v: number) => ({ ...noNir, _birthDate: { extension: [{ url: 'http://other', valueString: 'x' }, { url: BIRTH_ORDER, valuePositiveInt: v }] } });
  assert.deepEqual(rules(withOrder(2)), []);
  assert.deepEqual(at(rules(withOrder(0)), 'tddui-birth-order-range'), ['Patient.birthDate.extension[1].valuePositiveInt']);
  assert.deepEqual(at(rules(withOrder(1000)), 'tddui-birth-order-range'), ['Patient.birthDate.extension[1].valuePositiveInt']);
  assert.deepEqual(rules(withOrder(999)), []);
  // No birth date, nothing to order.
  assert.deepEqual(rules({ resourceType: 'Patient' }), []);
});

// --------------------------------------------------------------------------- SSIAD window

/** A SSIAD Bundle: one Patient and events/transports at the given (start, end) periods. */
function ssiad(periods: [string, string?][], transports: [string, string?][] = []): Doc {
  const patient = {
    fullUrl: 'urn:uuid:00000000-0000-4000-8000-000000000001',
    resource: {
      resourceType: 'Patient',
      identifier: [{ system: SYSTEMS.LOCAL_USAGER, value: '3750712184/u1' }],
      birthDate: '1950',
      _birthDate: { extension: [{ url: BIRTH_ORDER, valuePositiveInt: 1 }] },
    },
  };
  const entries: Doc[] = [patient];
  periods.forEach(([start, end], i) =>
    entries.push({
      fullUrl: `urn:uuid:00000000-0000-4000-8000-0000000001${String(i).padStart(2, '0')}`,
      resource: {
        resourceType: 'Encounter',
        identifier: [{ system: EVENT, value: `3750712184/u1-EVN-${i}` }],
        subject: { reference: patient.fullUrl },
        period: end ? { start, end } : { start },
      },
    }),
  );
  transports.forEach(([start, end], i) =>
    entries.push({
      fullUrl: `urn:uuid:00000000-0000-4000-8000-0000000002${String(i).padStart(2, '0')}`,
      resource: {
        resourceType: 'Task',
        identifier: [{ system: TRANSPORT_USAGER, value: `3750712184/u1-TPPat-${i}` }],
        for: { reference: patient.fullUrl },
        executionPeriod: end ? { start, end } : { start },
      },
    }),
  );
  return { resourceType: 'Bundle', type: 'transaction', entry: entries };
}

test('SSIAD window: 1 to 5 weeks of history per usager, none older than 5 weeks', () => {
  const now = new Date('2024-03-01T00:00:00Z');
  // 14 days of events, the last one yesterday: fine.
  assert.deepEqual(rules(ssiad([['2024-02-15'], ['2024-02-29']]), now), []);
  // Exactly 35 days is allowed; 36 is not.
  assert.deepEqual(at(rules(ssiad([['2024-01-25T00:00:00Z'], ['2024-02-29T00:00:00Z']]), now), 'tddui-ssiad-window-span'), []);
  assert.deepEqual(at(rules(ssiad([['2024-01-26'], ['2024-02-29']]), now), 'tddui-ssiad-window-span'), [], 'dates cover their whole day');
  assert.deepEqual(at(rules(ssiad([['2024-01-24T00:00:00Z'], ['2024-02-29T00:00:00Z']]), now), 'tddui-ssiad-window-span'), [
    'Bundle.entry[1].resource',
  ]);
  // Less than a week of history.
  assert.deepEqual(at(rules(ssiad([['2024-02-27'], ['2024-02-28']]), now), 'tddui-ssiad-window-min'), ['Bundle.entry[1].resource']);
  // Events older than 35 days before "now" (the reception time).
  const old = rules(ssiad([['2024-01-20'], ['2024-02-10']]), now);
  assert.deepEqual(at(old, 'tddui-ssiad-window-age'), ['Bundle.entry[1].resource.period.start']);
  assert.deepEqual(at(rules(ssiad([['2024-01-20'], ['2024-02-10']]), new Date('2024-02-20T00:00:00Z')), 'tddui-ssiad-window-age'), []);
  // Transports count too, at executionPeriod.
  const withTransport = rules(ssiad([['2024-02-20'], ['2024-02-28']], [['2024-01-01T08:00:00Z', '2024-01-01T09:00:00Z']]), now);
  assert.deepEqual(at(withTransport, 'tddui-ssiad-window-age'), ['Bundle.entry[3].resource.executionPeriod.start']);
  assert.deepEqual(at(withTransport, 'tddui-ssiad-window-span'), ['Bundle.entry[3].resource']);
  // Single resources are not windowed (the window is a Bundle property).
  assert.deepEqual(rules(ssiad([['2020-01-01']]).entry[1].resource, now), []);
});

test('SSIAD window is per usager', () => {
  const now = new Date('2024-03-01T00:00:00Z');
  const doc = ssiad([['2024-02-01'], ['2024-02-28']]);
  // A second usager with one event of a single day: only that usager is below the minimum.
  doc.entry.push(
    { fullUrl: 'urn:uuid:00000000-0000-4000-8000-000000000002', resource: { ...structuredClone(doc.entry[0].resource), identifier: [{ system: SYSTEMS.LOCAL_USAGER, value: '3750712184/u2' }] } },
    {
      fullUrl: 'urn:uuid:00000000-0000-4000-8000-000000000300',
      resource: {
        resourceType: 'Encounter',
        identifier: [{ system: EVENT, value: '3750712184/u2-EVN-1' }],
        subject: { reference: 'urn:uuid:00000000-0000-4000-8000-000000000002' },
        period: { start: '2024-02-27', end: '2024-02-27' },
      },
    },
  );
  assert.deepEqual(at(rules(doc, now), 'tddui-ssiad-window-min'), ['Bundle.entry[4].resource']);
});

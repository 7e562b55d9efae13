import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { EXAMPLES_DIR } from '../testing/paths.js';
import { businessKeys, COMPOSITE_SYSTEM_PREFIX, keyNeedsReferences, MASTER_IDENTIFIER_SYSTEM, ownerOf } from './business-keys.js';

type Json = Record<string, any>;
const load = (f: string) => JSON.parse(readFileSync(join(EXAMPLES_DIR, f), 'utf8')) as Json;
const SSIAD = load('Bundle-tddui-bundle-example.json');
const PP = load('Bundle-tddui-pp-pa-bundle-example.json');

test('Patient: PI first, then INS', () => {
  const p = { resourceType: 'Patient', identifier: [
    { system: 'urn:oid:1.2.250.1.213.1.4.8', value: '147720425367411' },
    { system: 'https://identifiant-medicosocial-localusager.esante.gouv.fr', value: '3480787529/1' },
    { system: 'urn:other', value: 'x' },
  ] };
  assert.deepEqual(businessKeys(p), [
    { system: 'https://identifiant-medicosocial-localusager.esante.gouv.fr', value: '3480787529/1' },
    { system: 'urn:oid:1.2.250.1.213.1.4.8', value: '147720425367411' },
  ]);
});

test('every entry of the official Bundles gets a key; identifier-less ones a composite key', () => {
  for (const b of [SSIAD, PP]) {
    for (const e of b.entry) {
      const keys = businessKeys(e.resource);
      assert.ok(keys.length >= 1, e.fullUrl);
      const composite = keys[0].system.startsWith(COMPOSITE_SYSTEM_PREFIX) && keys[0].system !== MASTER_IDENTIFIER_SYSTEM;
      assert.equal(composite, ['PractitionerRole', 'Consent'].includes(e.resource.resourceType), e.fullUrl);
      assert.equal(keyNeedsReferences(e.resource), composite);
    }
  }
  const doc = PP.entry.find((e: Json) => e.resource.resourceType === 'DocumentReference').resource;
  assert.deepEqual(businessKeys(doc), [{ system: MASTER_IDENTIFIER_SYSTEM, value: doc.masterIdentifier.value }]);
});

test('composite keys: same natural attributes, same key; key order, display and status do not matter', () => {
  const role = SSIAD.entry.find((e: Json) => e.resource.resourceType === 'PractitionerRole').resource;
  const k1 = businessKeys(role);
  const shuffled = JSON.parse(JSON.stringify(role));
  shuffled.code[0].coding[0].display = 'autre libellé';
  shuffled.active = false;
  const reordered = Object.fromEntries(Object.entries(shuffled).reverse());
  assert.deepEqual(businessKeys(reordered), k1);
  const other = { ...role, practitioner: { reference: 'Practitioner/another' } };
  assert.notDeepEqual(businessKeys(other), k1);
  // R5: practitioner + organization + code only (specialty and location are not part of it).
  assert.deepEqual(businessKeys({ ...role, specialty: [{ text: 'x' }], location: [{ reference: 'Location/l' }] }), k1);
  assert.notDeepEqual(businessKeys({ ...role, code: [{ coding: [{ system: 's', code: 'other' }] }] }), k1);
});

test('R5 RelatedPerson: usager + name + relationship', () => {
  const rp = { resourceType: 'RelatedPerson', patient: { reference: 'Patient?key=pi|1' }, name: [{ family: 'Martin', given: ['Anne'] }], relationship: [{ coding: [{ system: 'r', code: 'MTH' }] }] };
  const k = businessKeys(rp);
  assert.equal(k[0].system, COMPOSITE_SYSTEM_PREFIX + 'RelatedPerson');
  assert.deepEqual(businessKeys({ ...rp, birthDate: '1960-01-01', telecom: [{ value: '0600000000' }], active: false }), k, 'other attributes do not count');
  assert.notDeepEqual(businessKeys({ ...rp, patient: { reference: 'Patient?key=pi|2' } }), k);
  assert.notDeepEqual(businessKeys({ ...rp, name: [{ family: 'Martin', given: ['Paul'] }] }), k);
  assert.notDeepEqual(businessKeys({ ...rp, relationship: [{ coding: [{ system: 'r', code: 'FTH' }] }] }), k);
  // Without `patient`, the Bundle's usager stands for it.
  const { patient, ...noPatient } = rp;
  assert.deepEqual(businessKeys(noPatient, { usager: patient.reference }), k);
});

test('R5 Consent: referencing CarePlan + performer + dateTime; fallback without CarePlan', () => {
  const consent = PP.entry.find((e: Json) => e.resource.resourceType === 'Consent').resource;
  const pp = { carePlans: ['CarePlan?key=pp|1'] };
  const k = businessKeys(consent, pp);
  assert.equal(k[0].system, COMPOSITE_SYSTEM_PREFIX + 'Consent');
  assert.notDeepEqual(businessKeys({ ...consent, dateTime: '2025-01-01' }, pp), k, 'another signature date: another agreement');
  assert.notDeepEqual(businessKeys({ ...consent, performer: [{ reference: 'Patient?key=pi|1' }] }, pp), k, 'another signatory');
  assert.notDeepEqual(businessKeys(consent, { carePlans: ['CarePlan?key=pp|2'] }), k, 'another PP');
  assert.deepEqual(businessKeys({ ...consent, dateTime: '2024-01-15T08:00:00Z', status: 'inactive' }, pp), k, 'same instant, status ignored');
  assert.deepEqual(businessKeys(consent, { ...pp, usager: 'Patient/other' }), k, 'the PP already names the usager');
  // Fallback: the usager separates two usagers' consents; performer and dateTime still count.
  assert.notDeepEqual(businessKeys(consent, { usager: 'Patient/a' }), businessKeys(consent, { usager: 'Patient/b' }));
  assert.notDeepEqual(businessKeys(consent, { usager: 'Patient/a' }), k);
  assert.notDeepEqual(businessKeys({ ...consent, dateTime: '2025-01-01' }, { usager: 'Patient/a' }), businessKeys(consent, { usager: 'Patient/a' }));
  assert.deepEqual(businessKeys({ ...consent, status: 'inactive' }, { usager: 'Patient/a' }), businessKeys(consent, { usager: 'Patient/a' }));
});

test('owner: FINESS of the Organization, else of the local ids', () => {
  assert.equal(ownerOf(SSIAD), '480787529');
  assert.equal(ownerOf(PP), '480787529', 'PP-PA has no Organization: FINESS prefix of the local ids');
  const other = JSON.parse(JSON.stringify(PP).replaceAll('3480787529/', '3750000001/'));
  assert.equal(ownerOf(other), '750000001');
  assert.equal(ownerOf({ resourceType: 'Bundle', entry: [] }), undefined);
  assert.equal(ownerOf('junk'), undefined);
});

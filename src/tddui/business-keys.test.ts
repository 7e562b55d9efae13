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
  // Consent without patient: the bundle's usager separates two usagers' consents.
  const consent = PP.entry.find((e: Json) => e.resource.resourceType === 'Consent').resource;
  assert.notDeepEqual(businessKeys(consent, { usager: 'Patient/a' }), businessKeys(consent, { usager: 'Patient/b' }));
  assert.deepEqual(businessKeys(consent, { usager: 'Patient/a' }), businessKeys({ ...consent, dateTime: '2025-01-01' }, { usager: 'Patient/a' }));
});

test('owner: FINESS of the Organization, else of the local ids', () => {
  assert.equal(ownerOf(SSIAD), '480787529');
  assert.equal(ownerOf(PP), '480787529', 'PP-PA has no Organization: FINESS prefix of the local ids');
  const other = JSON.parse(JSON.stringify(PP).replaceAll('3480787529/', '3750000001/'));
  assert.equal(ownerOf(other), '750000001');
  assert.equal(ownerOf({ resourceType: 'Bundle', entry: [] }), undefined);
  assert.equal(ownerOf('junk'), undefined);
});

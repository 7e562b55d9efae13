// CdL's event (NdE `NOT`): a note of the liaison notebook created is an event about its usager;
// an update of a note, or a DocumentReference that is not a CdL note, is not.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { noteEvents } from './modules.js';
import type { WrittenChange } from '../storage/outbox.js';

const CDL = 'https://interop.esante.gouv.fr/ig/fhir/cdl/StructureDefinition/cdl-document-reference';
const note = { resourceType: 'DocumentReference', meta: { profile: [CDL] }, status: 'current', subject: { reference: 'Patient/p1' }, description: 'Chute ce matin' };
const change = (over: Partial<WrittenChange>): WrittenChange => ({ method: 'create', outcome: 'created', resourceType: 'DocumentReference', id: 'n1', versionId: 1, lastUpdated: '2026-03-02T08:00:00.000Z', resource: note, ...over });

test('a CdL note created is a NOT event about its usager', () => {
  const [e, ...rest] = noteEvents(change({}));
  assert.equal(rest.length, 0);
  assert.deepEqual(e!.type, { system: 'https://mos.esante.gouv.fr/NOS/TRE_R254-TypeEvenement/FHIR/TRE-R254-TypeEvenement', code: 'NOT', display: 'Nouvelle note dans le cahier de liaison' });
  assert.equal(e!.patient, 'Patient/p1');
  assert.equal(e!.focus, 'DocumentReference/n1/_history/1');
  assert.deepEqual(e!.detail, { title: 'Chute ce matin' });
});

test('an updated note, a deleted one, another DocumentReference: no event', () => {
  assert.deepEqual(noteEvents(change({ method: 'update', outcome: 'updated', versionId: 2 })), []);
  assert.deepEqual(noteEvents(change({ method: 'delete', outcome: 'deleted', resource: undefined })), []);
  assert.deepEqual(noteEvents(change({ resource: { ...note, meta: { profile: ['https://interop.esante.gouv.fr/ig/fhir/tddui/StructureDefinition/tddui-document-reference'] } } })), []);
});

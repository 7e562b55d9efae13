// What the TDDUI pages say about FR Core definitions the TDDUI profiles build on, for when FR
// Core (hl7.fhir.fr.core 2.1.0) is not loaded (a TDDUI package folder given alone, without the
// package cache; with the cache, FR Core's own definitions apply and these are ignored).
// Without them the INS slices of tddui-patient-ins have no discriminating value, so their
// "max 1" could not be enforced. Only facts the TDDUI content model states are written here
// (tddui-content-model.md: "INS-NIR / INS-NIA / INS-NIR-TEST / INS-NIR-DEMO, each max 1 ...
// system urn:oid:1.2.250.1.213.1.4.8 / .9 / .10 / .11"); the profile is still reported as
// checked only partly, and once FR Core is loaded its own definitions are used instead.
import type { BaseSupplements, ElementDefinition } from '../fhir/profiles/snapshot.js';

const FR_CORE_PATIENT_INS = 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient-ins';

const INS_SLICES: [slice: string, system: string][] = [
  ['INS-NIR', 'urn:oid:1.2.250.1.213.1.4.8'],
  ['INS-NIA', 'urn:oid:1.2.250.1.213.1.4.9'],
  ['INS-NIR-TEST', 'urn:oid:1.2.250.1.213.1.4.10'],
  ['INS-NIR-DEMO', 'urn:oid:1.2.250.1.213.1.4.11'],
];

function insSlices(): ElementDefinition[] {
  const out: ElementDefinition[] = [];
  for (const [slice, system] of INS_SLICES) {
    out.push({ id: `Patient.identifier:${slice}`, path: 'Patient.identifier', sliceName: slice, min: 0, max: '1' });
    out.push({ id: `Patient.identifier:${slice}.system`, path: 'Patient.identifier.system', min: 1, patternUri: system });
  }
  return out;
}

export const FR_CORE_SUPPLEMENTS: BaseSupplements = new Map([[FR_CORE_PATIENT_INS, insSlices()]]);

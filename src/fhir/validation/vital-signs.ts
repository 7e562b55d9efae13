// The R4 vital-signs rule (FHIR R4 §"Vital Signs"): an Observation whose code is one of the
// vital-signs codes SHALL conform to the profile of its kind (bodytemp, bodyweight, bp...),
// whatever its meta.profile says. The HL7 validator applies it to every R4 Observation, from
// LOINC codes first, then from the SNOMED CT codes of the same measurements; so do we (D-160).
import { isObject, type Json } from './paths.js';

const CORE = 'http://hl7.org/fhir/StructureDefinition/';

/** profile id -> [LOINC codes, SNOMED CT codes] that imply it. The first LOINC match wins, then the first SNOMED one. */
const IMPLIED: ReadonlyArray<readonly [string, readonly string[], readonly string[]]> = [
  ['vitalspanel', ['85353-1'], ['46680005']],
  ['resprate', ['9279-1', '76170-0', '76172-6', '76171-8', '19840-8', '33438-3', '76270-8', '11291-2'], ['86290005', '271625008', '271306003']],
  [
    'heartrate',
    ['60978-4', '73795-7', '73799-9', '76476-1', '76477-9', '8867-4', '8889-8', '8890-6', '8891-4', '8892-2', '8893-0', '40443-4', '55425-3', '68999-2', '11328-2', '69000-8', '8886-4'],
    ['249043002', '444981005', '399017001', '251670001', '429525003', '429614003'],
  ],
  ['oxygensat', ['2708-6', '19224-5', '20564-1', '2709-4', '2710-2', '2713-6', '51733-4', '59408-5', '59417-6', '89276-0', '97549-0'], ['442476006', '431314004']],
  [
    'bodytemp',
    ['8310-5', '60834-9', '60835-6', '60836-4', '60838-0', '60955-2', '61009-7', '75539-7', '75987-8', '76010-8', '76011-6', '76278-1', '8309-7', '8328-7', '8329-5', '8330-3', '8331-1', '8332-9', '8333-7', '8334-5', '91371-5', '98657-0', '98663-8'],
    ['386725007', '276885007', '300076005', '1222808002', '364246006', '307047009', '708499008', '431598003', '698831002', '698832009', '415882003', '415974002', '415929009', '415945006'],
  ],
  ['bodyheight', ['8302-2', '3137-7', '3138-5', '8306-3', '8308-9'], ['1153637007', '1162419008', '50373000', '1162418000', '1230278008', '1162392001', '1162417005']],
  ['headcircum', ['9843-4', '8287-5'], ['363812007', '169876006', '1269262007', '363811000']],
  ['bodyweight', ['29463-7', '3141-9', '3142-7', '75292-3', '79348-9', '8350-1', '8351-9'], ['735395000', '425024002', '424927000', '784399000', '1162416001', '1162415002']],
  ['bmi', ['39156-5', '89270-3'], ['60621009']],
  ['bp', ['85354-9', '35094-2', '8459-0', '76534-7', '55284-4', '8480-6'], ['251076008', '163033001', '163035008', '386534000', '386536003', '271649006', '271650006', '407556006', '407554009', '716579001', '399304008']],
];

/** system -> code -> rank of its profile in IMPLIED. */
const BY_SYSTEM = new Map<string, Map<string, number>>([
  ['http://loinc.org', new Map()],
  ['http://snomed.info/sct', new Map()],
]);
IMPLIED.forEach(([, loinc, sct], rank) => {
  for (const c of loinc) if (!BY_SYSTEM.get('http://loinc.org')!.has(c)) BY_SYSTEM.get('http://loinc.org')!.set(c, rank);
  for (const c of sct) if (!BY_SYSTEM.get('http://snomed.info/sct')!.has(c)) BY_SYSTEM.get('http://snomed.info/sct')!.set(c, rank);
});

/** The vital-signs profile an Observation must conform to, from its code, or undefined. */
export function impliedVitalSignsProfile(obs: Json): string | undefined {
  const code = obs.code;
  if (!isObject(code) || !Array.isArray(code.coding)) return undefined;
  // LOINC codes decide before SNOMED CT ones; among one system's, the first kind in IMPLIED's order.
  for (const [system, table] of BY_SYSTEM) {
    let best = IMPLIED.length;
    for (const c of code.coding) {
      if (isObject(c) && c.system === system && typeof c.code === 'string') best = Math.min(best, table.get(c.code) ?? best);
    }
    if (best < IMPLIED.length) return CORE + IMPLIED[best]![0];
  }
  return undefined;
}

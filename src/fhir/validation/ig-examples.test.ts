// The IG Publisher's own findings: every official example of every package in the shared cache
// (TDDUI, FR Core, Annuaire, CDS, CdL, NdE, GAP, PDSm, MHD) validated in its own IG's context,
// our errors beside the HL7 validator's (`ig-publisher-qa/validation-oo.json`, or FR Core's
// `package/other/validation-oo.json`). Every difference is explained in EXPLAINED: an example
// we reject and the reference accepts, or one the reference rejects and we accept. Packages
// that publish no findings are compared with "no error" (the rule for official examples:
// docs/decisions.md, top).
import { strict as assert } from 'node:assert';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createEngines } from '../engine.js';
import { isObject } from '../json.js';
import { SHARED_FHIR } from '../../testing/paths.js';

const PACKAGES = [
  'ans.fhir.fr.tddui#2.2.0',
  'ans.fhir.fr.tddui#2.3.0',
  'hl7.fhir.fr.core#2.0.1',
  'hl7.fhir.fr.core#2.1.0',
  'ans.fhir.fr.annuaire#1.1.0',
  'ans.fhir.fr.cds#2.0.1',
  'ans.fhir.fr.cdl#3.0.1',
  'ans.fhir.fr.nde#3.0.0-ballot',
  'ans.fhir.fr.gap#3.0.0',
  'ans.fhir.fr.pdsm#3.1.1',
  'ihe.iti.mhd#4.2.0',
];

/** `<package>/<example file>` -> why our verdict differs from the reference's. */
const EXPLAINED: Record<string, string> = {
  "hl7.fhir.fr.core#2.0.1/Appointment-FRCoreAppointmentExample.json":
    "D-42: the IG Publisher resolves every reference against the IG's examples and reports one it cannot find ('Unable to resolve resource with reference'); a resource validated on its own does not resolve references outside it (a Bundle resolves its entries)",
  "hl7.fhir.fr.core#2.0.1/Observation-FRCoreObservationBPExample.json":
    "D-42: the IG Publisher resolves every reference against the IG's examples and reports one it cannot find ('Unable to resolve resource with reference'); a resource validated on its own does not resolve references outside it (a Bundle resolves its entries)",
  "hl7.fhir.fr.core#2.0.1/Observation-FRCoreObservationBodyHeightExample.json":
    "D-42: the IG Publisher resolves every reference against the IG's examples and reports one it cannot find ('Unable to resolve resource with reference'); a resource validated on its own does not resolve references outside it (a Bundle resolves its entries)",
  "hl7.fhir.fr.core#2.0.1/Observation-FRCoreObservationBodyTemperatureExample.json":
    "D-42: the IG Publisher resolves every reference against the IG's examples and reports one it cannot find ('Unable to resolve resource with reference'); a resource validated on its own does not resolve references outside it (a Bundle resolves its entries)",
  "hl7.fhir.fr.core#2.0.1/Observation-FRCoreObservationBodyWeightExample.json":
    "D-42: the IG Publisher resolves every reference against the IG's examples and reports one it cannot find ('Unable to resolve resource with reference'); a resource validated on its own does not resolve references outside it (a Bundle resolves its entries)",
  "hl7.fhir.fr.core#2.0.1/Observation-FRCoreObservationHeadCircumExample.json":
    "D-42: the IG Publisher resolves every reference against the IG's examples and reports one it cannot find ('Unable to resolve resource with reference'); a resource validated on its own does not resolve references outside it (a Bundle resolves its entries)",
  "hl7.fhir.fr.core#2.0.1/Observation-FRCoreObservationHeartRateExample.json":
    "D-42: the IG Publisher resolves every reference against the IG's examples and reports one it cannot find ('Unable to resolve resource with reference'); a resource validated on its own does not resolve references outside it (a Bundle resolves its entries)",
  "hl7.fhir.fr.core#2.0.1/Schedule-FRCoreScheduleExample.json":
    "D-42: the IG Publisher resolves every reference against the IG's examples and reports one it cannot find ('Unable to resolve resource with reference'); a resource validated on its own does not resolve references outside it (a Bundle resolves its entries)",
  "hl7.fhir.fr.core#2.0.1/Slot-FRCoreSlotExample.json":
    "D-42: the IG Publisher resolves every reference against the IG's examples and reports one it cannot find ('Unable to resolve resource with reference'); a resource validated on its own does not resolve references outside it (a Bundle resolves its entries)",
  "hl7.fhir.fr.core#2.1.0/Appointment-FRCoreAppointmentExample.json":
    "D-42: the IG Publisher resolves every reference against the IG's examples and reports one it cannot find ('Unable to resolve resource with reference'); a resource validated on its own does not resolve references outside it (a Bundle resolves its entries)",
  "hl7.fhir.fr.core#2.1.0/Observation-FRCoreObservationBPExample.json":
    "D-42: the IG Publisher resolves every reference against the IG's examples and reports one it cannot find ('Unable to resolve resource with reference'); a resource validated on its own does not resolve references outside it (a Bundle resolves its entries)",
  "hl7.fhir.fr.core#2.1.0/Schedule-FRCoreScheduleExample.json":
    "D-42: the IG Publisher resolves every reference against the IG's examples and reports one it cannot find ('Unable to resolve resource with reference'); a resource validated on its own does not resolve references outside it (a Bundle resolves its entries)",
  "hl7.fhir.fr.core#2.1.0/Slot-FRCoreSlotExample.json":
    "D-42: the IG Publisher resolves every reference against the IG's examples and reports one it cannot find ('Unable to resolve resource with reference'); a resource validated on its own does not resolve references outside it (a Bundle resolves its entries)",
  "ans.fhir.fr.gap#3.0.0/Appointment-example-req-appointment.json":
    "D-42: the IG Publisher resolves every reference against the IG's examples and reports one it cannot find ('Unable to resolve resource with reference'); a resource validated on its own does not resolve references outside it (a Bundle resolves its entries)",
  "ans.fhir.fr.gap#3.0.0/Schedule-example.json":
    "D-42: the IG Publisher resolves every reference against the IG's examples and reports one it cannot find ('Unable to resolve resource with reference'); a resource validated on its own does not resolve references outside it (a Bundle resolves its entries)",
  "ans.fhir.fr.gap#3.0.0/Slot-example.json":
    "D-42: the IG Publisher resolves every reference against the IG's examples and reports one it cannot find ('Unable to resolve resource with reference'); a resource validated on its own does not resolve references outside it (a Bundle resolves its entries)",
  "hl7.fhir.fr.core#2.0.1/Patient-ExamplefrCorePatient001.json":
    "gap (terminology): the reference reports the TRE_R13-Commune code as not in FR Core 2.0.1's INSEE value set; that value set draws on NOS content not in the cache, so ours says 'not checked' (FR Core 2.1.0's, decidable, gives the error)",
  "ans.fhir.fr.cds#2.0.1/RelatedPerson-cds-relatedperson-example.json":
    "gap (terminology): a wrong display for a TRE_R260 code; the NOS code system content is not in the cache, so displays are not checked",
  "ans.fhir.fr.pdsm#3.1.1/List-ExampleFolder.json":
    "gap (terminology): List.code and its display against the MHD List Types value set of the MHD version PDSm's build used; the cache's MHD 4.2.0 (built from source) accepts the code",
  "ihe.iti.mhd#4.2.0/Bundle-ex-findDocumentReferencesResponse.json":
    "example defect (no QA published for MHD): the entry's RESTful fullUrl names another id than its resource's; the HL7 validator has the same rule (fhir-test-cases document-css, bundle-ihe-good)",
  "ans.fhir.fr.annuaire#1.1.0/Organization-158480.json":
    "example defect (no QA published for Annuaire): TRE_R13-Commune codes are not in FR Core's INSEE value set (which includes TRE_R13-CommuneOM); the HL7 validator reports the same on FR Core's and CDS's examples (their validation-oo.json)",
  "ans.fhir.fr.annuaire#1.1.0/Organization-158480DP.json":
    "example defect (no QA published for Annuaire): TRE_R13-Commune codes are not in FR Core's INSEE value set (which includes TRE_R13-CommuneOM); the HL7 validator reports the same on FR Core's and CDS's examples (their validation-oo.json)",
  "ans.fhir.fr.annuaire#1.1.0/Organization-example-organization-fictive.json":
    "example defect (no QA published for Annuaire): TRE_R13-Commune codes are not in FR Core's INSEE value set (which includes TRE_R13-CommuneOM); the HL7 validator reports the same on FR Core's and CDS's examples (their validation-oo.json)",
  "ans.fhir.fr.annuaire#1.1.0/Organization-example-organization-nancy.json":
    "example defect (no QA published for Annuaire): TRE_R13-Commune codes are not in FR Core's INSEE value set (which includes TRE_R13-CommuneOM); the HL7 validator reports the same on FR Core's and CDS's examples (their validation-oo.json)",
  "ans.fhir.fr.annuaire#1.1.0/Person-pp16dr-person.json":
    "example defect (no QA published for Annuaire): TRE_R13-Commune codes are not in FR Core's INSEE value set (which includes TRE_R13-CommuneOM); the HL7 validator reports the same on FR Core's and CDS's examples (their validation-oo.json)",
  "ans.fhir.fr.annuaire#1.1.0/Person-pp19dr-person.json":
    "example defect (no QA published for Annuaire): TRE_R13-Commune codes are not in FR Core's INSEE value set (which includes TRE_R13-CommuneOM); the HL7 validator reports the same on FR Core's and CDS's examples (their validation-oo.json)",
  "ans.fhir.fr.annuaire#1.1.0/Practitioner-334081.json":
    "example defect (no QA published for Annuaire): TRE_R13-Commune codes are not in FR Core's INSEE value set (which includes TRE_R13-CommuneOM); the HL7 validator reports the same on FR Core's and CDS's examples (their validation-oo.json)",
  "ans.fhir.fr.annuaire#1.1.0/Practitioner-3719500.json":
    "example defect (no QA published for Annuaire): TRE_R13-Commune codes are not in FR Core's INSEE value set (which includes TRE_R13-CommuneOM); the HL7 validator reports the same on FR Core's and CDS's examples (their validation-oo.json)",
  "ans.fhir.fr.annuaire#1.1.0/PractitionerRole-1578230DP.json":
    "example defect (no QA published for Annuaire): these PractitionerRole examples lack the identifier:idSituationExercice slice their profile requires (min 1)",
  "ans.fhir.fr.annuaire#1.1.0/PractitionerRole-1738459DP.json":
    "example defect (no QA published for Annuaire): these PractitionerRole examples lack the identifier:idSituationExercice slice their profile requires (min 1)",
  "ans.fhir.fr.annuaire#1.1.0/PractitionerRole-5015602DP.json":
    "example defect (no QA published for Annuaire): these PractitionerRole examples lack the identifier:idSituationExercice slice their profile requires (min 1)",
};

/** The reference's error count per `Type/id`, or undefined when the package publishes no findings. */
function referenceErrors(pkg: string): Map<string, number> | undefined {
  const file = [join(SHARED_FHIR, pkg, 'ig-publisher-qa', 'validation-oo.json'), join(SHARED_FHIR, pkg, 'package', 'other', 'validation-oo.json')].find(existsSync);
  if (!file) return undefined;
  const out = new Map<string, number>();
  const qa = JSON.parse(readFileSync(file, 'utf8')) as { entry?: { resource?: { issue?: { severity: string; expression?: string[] }[] } }[] };
  for (const e of qa.entry ?? []) {
    for (const i of e.resource?.issue ?? []) {
      if (i.severity !== 'error' && i.severity !== 'fatal') continue;
      const m = /^([A-Z][A-Za-z]+\/[A-Za-z0-9\-.]+): /.exec(i.expression?.[0] ?? '');
      if (m) out.set(m[1]!, (out.get(m[1]!) ?? 0) + 1);
    }
  }
  return out;
}

const present = existsSync(SHARED_FHIR);

test('official examples: our errors beside the HL7 validator\'s (IG Publisher QA), every difference explained', { skip: !present && `${SHARED_FHIR} absent` }, async (t) => {
  const unexplained: string[] = [];
  const stale: string[] = [];
  let compared = 0;
  for (const pkg of PACKAGES) {
    const dir = join(SHARED_FHIR, pkg, 'package', 'example');
    if (!existsSync(dir)) continue;
    const set = await createEngines({ igs: [pkg], paths: [SHARED_FHIR], useCache: false, precompile: false });
    const engine = set.engineFor(pkg) ?? set.all;
    const reference = referenceErrors(pkg);
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
      const json = JSON.parse(readFileSync(join(dir, file), 'utf8')) as unknown;
      if (!isObject(json) || typeof json.resourceType !== 'string') continue;
      compared++;
      const ours = engine.validator.validate(json).filter((i) => i.severity === 'error' || i.severity === 'fatal');
      const theirs = reference?.get(`${json.resourceType}/${String(json.id)}`) ?? 0;
      const key = `${pkg}/${file}`;
      const differs = ours.length > 0 !== theirs > 0;
      const line = `${key}: ours ${ours.length}, reference ${reference ? theirs : '(no findings published: 0)'}${ours[0] ? ` — ${ours[0].expression} ${ours[0].rule}: ${ours[0].message.slice(0, 160)}` : ''}`;
      if (ours.length || theirs) t.diagnostic(line + (EXPLAINED[key] ? `  [${EXPLAINED[key]}]` : ''));
      if (differs && !EXPLAINED[key]) unexplained.push(line);
      if (!differs && EXPLAINED[key]) stale.push(key);
    }
  }
  t.diagnostic(`${compared} examples compared`);
  assert.ok(compared > 200, `only ${compared} examples found`);
  assert.deepEqual(unexplained, [], 'verdicts that differ from the HL7 validator\'s without an explanation in EXPLAINED');
  assert.deepEqual(stale, [], 'explained differences that no longer differ: take them out of EXPLAINED');
});

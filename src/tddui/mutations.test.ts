// Mutation suite for the TDDUI validator.
//
// Each case deep-clones one official example of TDDUI 2.2.0 (../shared/fhir-packages/ans.fhir.fr.tddui#2.2.0/package/example),
// validated under TDDUI 2.2.0 with its complete dependencies (FR Core 2.1.0...),
// applies one small, deliberate defect and checks that the validator reports it with the exact
// rule id, FHIRPath location and severity. Cases are grouped by check family (JSON rules, unknown
// elements, primitive formats, cardinality, choice types, fixed/pattern values, slicing,
// extensions, bindings, invariants, references, Bundle entries, TDDUI business rules). A few
// "control" cases make a correct change (e.g. a NIR with its right key) and check that the rule
// stays silent.
//
// Every case also checks that the validator did not crash (no fhir-internal-error or
// tddui-rule-error) and did not modify its input; when an error is expected, the report must be
// invalid. Known defects of the validator are listed in KNOWN_DEFECTS and run as `test.todo`:
// they show up in the report without failing the run, and can be moved to MUTATIONS once fixed.
//
// Run: npx tsc -p tsconfig.json && node --test dist/src/tddui/mutations.test.js
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Severity, ValidationIssue } from '../fhir/outcome/issue.js';
import { EXAMPLES_DIR, SHARED_FHIR } from '../testing/paths.js';
import { TdduiValidator, type ValidationReport } from './validator.js';

// ------------------------------------------------------------------------------------ helpers

/** Example documents are free-form FHIR JSON: mutations poke at them without a schema. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = any;

const FAMILIES = [
  'json',
  'unknown-element',
  'primitive',
  'cardinality',
  'choice',
  'fixed-pattern',
  'slicing',
  'extension',
  'binding',
  'invariant',
  'narrative',
  'questionnaire',
  'reference',
  'bundle-entry',
  'tddui-rule',
] as const;
type Family = (typeof FAMILIES)[number];

interface Expected {
  rule: string;
  expression: string;
  severity: Severity;
  /** Optional check on the message (the invariant key, or the value the rule names). */
  message?: RegExp;
}

interface Mutation {
  name: string;
  family: Family;
  file: string;
  mutate(doc: Doc): void;
  /** Issues that must be reported (empty for control cases). */
  expect: Expected[];
  /** Issues that must NOT be reported (control cases, replaced invariants). */
  absent?: { rule: string; expression: string }[];
  /** Expected report.valid when it is not implied by `expect` (control cases). */
  valid?: boolean;
  /** "Now" for the SSIAD window rules (default NOW). */
  now?: Date;
}

/** Shorthand for an expected issue. */
function issue(rule: string, expression: string, severity: Severity = 'error', message?: RegExp): Expected {
  return { rule, expression, severity, message };
}

/** The official examples used below. */
const SSIAD = 'Bundle-tddui-bundle-example.json';
const PP = 'Bundle-tddui-pp-pa-bundle-example.json';
const PATIENT = 'Patient-tddui-patient-example.json';
const PATIENT_INS = 'Patient-tddui-patient-ins-example.json';
const ORGANIZATION = 'Organization-tddui-organization-example.json';
const PRACTITIONER = 'Practitioner-tddui-practitioner-example.json';
const EVENEMENT = 'Encounter-tddui-encounter-evenement-example.json';
const SEJOUR = 'Encounter-tddui-encounter-sejour-example.json';
const CAREPLAN = 'CarePlan-tddui-pp-pa-careplan-example.json';
const CONSENT = 'Consent-tddui-pp-pa-consent-accord-example.json';
const GOAL_OBJECTIF = 'Goal-tddui-pp-pa-goal-objectif-1-example.json';
const GOAL_ATTENTE = 'Goal-tddui-pp-pa-goal-attente-usager-example.json';
const SERVICE_REQUEST = 'ServiceRequest-tddui-pp-pa-servicerequest-besoin-1-example.json';
const TASK_ACTION = 'Task-tddui-pp-pa-task-action-1-ide-example.json';
const TASK_TRANSPORT_USAGER = 'Task-tddui-task-transport-usager-example.json';
const TASK_TRANSPORT_PRO = 'Task-tddui-task-transport-professionel-example.json';
const RELATED_PERSON = 'RelatedPerson-tddui-related-person-contact-example.json';
const DOC_ENTRANT = 'DocumentReference-tddui-pp-pa-documentreference-entrant-example.json';
const QR_AGGIR = 'QuestionnaireResponse-tddui-questionnaire-response-aggir-pa-example.json';
const QR_SERAFIN = 'QuestionnaireResponse-tddui-questionnaire-response-serafin-sans-precision-example.json';
const QR_SITUATION = 'QuestionnaireResponse-tddui-questionnaire-response-situation-ssiad-example.json';

/** Reference date: 17 days after the SSIAD visit of 2023-04-14. */
const NOW = new Date('2023-05-01T00:00:00Z');
const TDDUI_SD = 'https://interop.esante.gouv.fr/ig/fhir/tddui/StructureDefinition/';
const TDDUI_Q = 'https://interop.esante.gouv.fr/ig/fhir/tddui/Questionnaire/';
const CISIS = 'https://smt.esante.gouv.fr/fhir/CodeSystem/terminologie-cisis';
const A_UUID = 'urn:uuid:0b0c2c4e-1111-4222-8333-444455556666';
/** A narrative div in the XHTML namespace around `inner`. */
const XDIV = (inner: string) => `<div xmlns="http://www.w3.org/1999/xhtml">${inner}</div>`;

/** Rules that mean the validator itself failed on the input. */
const CRASH_RULES = new Set(['fhir-internal-error', 'tddui-rule-error']);

/** Original documents, parsed once, and their serialisation at load time (for the leak test). */
const originals = new Map<string, { doc: Doc; text: string }>();

function original(file: string): Doc {
  let o = originals.get(file);
  if (!o) {
    const doc = JSON.parse(readFileSync(join(EXAMPLES_DIR, file), 'utf8')) as Doc;
    o = { doc, text: JSON.stringify(doc) };
    originals.set(file, o);
  }
  return o.doc;
}

/** The resource of entry i of a Bundle. */
function res(bundle: Doc, i: number): Doc {
  return bundle.entry[i].resource;
}

/** A Bundle entry for a resource, in the style of the official examples. */
function newEntry(resource: Doc): Doc {
  return {
    fullUrl: `https://test-server.fr/${resource.resourceType}/${resource.id}`,
    resource,
    request: { method: 'POST', url: resource.resourceType },
  };
}

/** A resource type no TDDUI profile covers. */
function observation(): Doc {
  return { resourceType: 'Observation', id: 'obs-1', status: 'final', code: { text: 'Poids' } };
}

/** An input of a Task, found by its type code (so the cases do not depend on input order). */
function input(task: Doc, code: string): Doc {
  const found = task.input.find((i: Doc) => i.type.coding[0].code === code);
  assert.ok(found, `input ${code} not found`);
  return found;
}

/** One line per issue, for failure messages. */
function show(issues: ValidationIssue[]): string {
  return issues.map((i) => `  ${i.severity} ${i.rule} @ ${i.expression}: ${i.message}`).join('\n');
}

function find(report: ValidationReport, rule: string, expression: string): ValidationIssue[] {
  return report.issues.filter((i) => i.rule === rule && i.expression === expression);
}

function isError(i: { severity: Severity }): boolean {
  return i.severity === 'error' || i.severity === 'fatal';
}

// ------------------------------------------------------------------------------ mutations

const MUTATIONS: Mutation[] = [
  // ---------------------------------------------------------------- JSON rules
  {
    name: 'Patient.gender as a JSON number',
    family: 'json',
    file: SSIAD,
    mutate: (d) => (res(d, 0).gender = 1),
    expect: [issue('fhir-json-type', 'Bundle.entry[0].resource.gender')],
  },
  {
    name: 'Patient.birthDate null',
    family: 'json',
    file: PATIENT,
    mutate: (d) => (d.birthDate = null),
    expect: [issue('fhir-empty-element', 'Patient.birthDate')],
  },
  {
    name: 'Organization.name empty string',
    family: 'json',
    file: SSIAD,
    mutate: (d) => (res(d, 1).name = ''),
    expect: [issue('fhir-empty-element', 'Bundle.entry[1].resource.name')],
  },
  {
    name: 'Patient.address empty array',
    family: 'json',
    file: PATIENT,
    mutate: (d) => (d.address = []),
    expect: [issue('fhir-empty-element', 'Patient.address')],
  },
  {
    name: 'Encounter (séjour) period empty object',
    family: 'json',
    file: SSIAD,
    mutate: (d) => (res(d, 2).period = {}),
    expect: [issue('fhir-empty-element', 'Bundle.entry[2].resource.period')],
  },
  {
    name: 'null inside a repeating primitive (name.given)',
    family: 'json',
    file: PATIENT,
    mutate: (d) => d.name[0].given.push(null),
    expect: [issue('fhir-empty-element', 'Patient.name[0].given[1]')],
  },
  {
    name: '_gender (primitive extension) given as a string',
    family: 'json',
    file: PATIENT,
    mutate: (d) => (d._gender = 'x'),
    expect: [issue('fhir-json-type', 'Patient.gender')],
  },
  {
    name: '_birthDate given as an array on a non-repeating element',
    family: 'json',
    file: PATIENT,
    mutate: (d) => (d._birthDate = [d._birthDate]),
    expect: [issue('fhir-array-unexpected', 'Patient.birthDate')],
  },
  {
    name: 'unknown resourceType in an entry',
    family: 'json',
    file: SSIAD,
    mutate: (d) => (res(d, 1).resourceType = 'Organisation'),
    expect: [issue('fhir-unknown-resource-type', 'Bundle.entry[1].resource')],
  },
  {
    name: 'entry resource without resourceType',
    family: 'json',
    file: SSIAD,
    mutate: (d) => delete res(d, 4).resourceType,
    expect: [issue('fhir-not-a-resource', 'Bundle.entry[4].resource')],
  },
  {
    name: 'entry.resource is a string',
    family: 'json',
    file: SSIAD,
    mutate: (d) => (d.entry[1].resource = 'Organization'),
    expect: [issue('fhir-not-a-resource', 'Bundle.entry[1].resource')],
  },
  {
    name: 'Patient.identifier as an object instead of an array',
    family: 'json',
    file: PATIENT,
    mutate: (d) => (d.identifier = d.identifier[0]),
    expect: [issue('fhir-array-expected', 'Patient.identifier')],
  },
  {
    name: 'Bundle.entry as an object instead of an array',
    family: 'json',
    file: SSIAD,
    mutate: (d) => (d.entry = d.entry[0]),
    expect: [issue('fhir-array-expected', 'Bundle.entry')],
  },
  {
    name: 'Encounter.period as an array',
    family: 'json',
    file: SSIAD,
    mutate: (d) => (res(d, 3).period = [res(d, 3).period]),
    expect: [issue('fhir-array-unexpected', 'Bundle.entry[3].resource.period')],
  },

  // ---------------------------------------------------------------- unknown elements
  {
    name: 'unknown property on Organization',
    family: 'unknown-element',
    file: SSIAD,
    mutate: (d) => (res(d, 1).unknownThing = true),
    expect: [issue('fhir-unknown-element', 'Bundle.entry[1].resource.unknownThing')],
  },
  {
    name: 'HumanName.firstName',
    family: 'unknown-element',
    file: PATIENT,
    mutate: (d) => (d.name[0].firstName = 'Jean'),
    expect: [issue('fhir-unknown-element', 'Patient.name[0].firstName')],
  },
  {
    name: 'unknown property on a Bundle entry',
    family: 'unknown-element',
    file: SSIAD,
    mutate: (d) => (d.entry[0].foo = 1),
    expect: [issue('fhir-unknown-element', 'Bundle.entry[0].foo')],
  },
  {
    name: 'Period.duration',
    family: 'unknown-element',
    file: SSIAD,
    mutate: (d) => (res(d, 3).period.duration = 'PT45M'),
    expect: [issue('fhir-unknown-element', 'Bundle.entry[3].resource.period.duration')],
  },
  {
    name: '_foo primitive extension of no element',
    family: 'unknown-element',
    file: PATIENT,
    mutate: (d) => (d._foo = { extension: [{ url: 'http://example.org/x', valueString: 'x' }] }),
    expect: [issue('fhir-unknown-element', 'Patient._foo')],
  },
  {
    name: 'misspelt element (Task.executionPeriode)',
    family: 'unknown-element',
    file: TASK_TRANSPORT_USAGER,
    mutate: (d) => (d.executionPeriode = d.executionPeriod),
    expect: [issue('fhir-unknown-element', 'Task.executionPeriode')],
  },
  {
    name: 'wrong case (CarePlan.SupportingInfo)',
    family: 'unknown-element',
    file: CAREPLAN,
    mutate: (d) => (d.SupportingInfo = d.supportingInfo),
    expect: [issue('fhir-unknown-element', 'CarePlan.SupportingInfo')],
  },
  {
    name: 'unknown property in a backbone element (Goal.target.measureCode)',
    family: 'unknown-element',
    file: GOAL_OBJECTIF,
    mutate: (d) => (d.target = [{ measureCode: 'x' }]),
    expect: [issue('fhir-unknown-element', 'Goal.target[0].measureCode')],
  },

  // ---------------------------------------------------------------- primitive formats
  {
    name: 'date 2023-02-30 (impossible calendar date)',
    family: 'primitive',
    file: PATIENT,
    mutate: (d) => (d.birthDate = '2023-02-30'),
    expect: [issue('fhir-primitive-format', 'Patient.birthDate')],
  },
  {
    name: 'date 1900-02-29 (1900 is not a leap year)',
    family: 'primitive',
    file: PATIENT,
    mutate: (d) => (d.birthDate = '1900-02-29'),
    expect: [issue('fhir-primitive-format', 'Patient.birthDate')],
  },
  {
    name: 'date with year 0000',
    family: 'primitive',
    file: PATIENT,
    mutate: (d) => (d.birthDate = '0000-04-03'),
    expect: [issue('fhir-primitive-format', 'Patient.birthDate')],
  },
  {
    name: 'date in French notation',
    family: 'primitive',
    file: PATIENT,
    mutate: (d) => (d.birthDate = '03/04/1947'),
    expect: [issue('fhir-primitive-format', 'Patient.birthDate')],
  },
  {
    name: 'date without zero padding',
    family: 'primitive',
    file: PATIENT,
    mutate: (d) => (d.birthDate = '1947-4-3'),
    expect: [issue('fhir-primitive-format', 'Patient.birthDate')],
  },
  {
    name: 'dateTime with hour 25',
    family: 'primitive',
    file: SSIAD,
    mutate: (d) => (res(d, 3).period.start = '2023-04-14T25:30:00+02:00'),
    expect: [issue('fhir-primitive-format', 'Bundle.entry[3].resource.period.start')],
  },
  {
    name: 'dateTime with a time but no time zone',
    family: 'primitive',
    file: SSIAD,
    mutate: (d) => (res(d, 3).period.end = '2023-04-14T11:15:00'),
    expect: [issue('fhir-primitive-format', 'Bundle.entry[3].resource.period.end')],
  },
  {
    name: 'dateTime with time zone +15:00',
    family: 'primitive',
    file: SSIAD,
    mutate: (d) => (res(d, 3).period.start = '2023-04-14T10:30:00+15:00'),
    expect: [issue('fhir-primitive-format', 'Bundle.entry[3].resource.period.start')],
  },
  {
    name: 'dateTime without seconds',
    family: 'primitive',
    file: CONSENT,
    mutate: (d) => (d.dateTime = '2024-01-15T09:00+01:00'),
    expect: [issue('fhir-primitive-format', 'Consent.dateTime')],
  },
  {
    name: 'dateTime 2023-02-30 in an extension (tddui-admission-date)',
    family: 'primitive',
    file: SEJOUR,
    mutate: (d) => (d.extension[0].valueDateTime = '2023-02-30'),
    expect: [issue('fhir-primitive-format', 'Encounter.extension[0].valueDateTime')],
  },
  {
    name: 'instant without time (Bundle.timestamp)',
    family: 'primitive',
    file: SSIAD,
    mutate: (d) => (d.timestamp = '2023-04-14'),
    expect: [issue('fhir-primitive-format', 'Bundle.timestamp')],
  },
  {
    name: 'instant without time zone (meta.lastUpdated)',
    family: 'primitive',
    file: CAREPLAN,
    mutate: (d) => (d.meta.lastUpdated = '2024-01-15T09:00:00'),
    expect: [issue('fhir-primitive-format', 'CarePlan.meta.lastUpdated')],
  },
  {
    name: 'uri with a space (identifier.system)',
    family: 'primitive',
    file: ORGANIZATION,
    mutate: (d) => (d.identifier[0].system = 'urn:oid:1.2.250.1.71.4.2 .2'),
    expect: [issue('fhir-primitive-format', 'Organization.identifier[0].system')],
  },
  {
    name: 'canonical with a space (QuestionnaireResponse.questionnaire)',
    family: 'primitive',
    file: QR_AGGIR,
    mutate: (d) => (d.questionnaire = `${TDDUI_Q}tddui-questionnaire-aggir pa-ssiad`),
    expect: [issue('fhir-primitive-format', 'QuestionnaireResponse.questionnaire')],
  },
  {
    name: 'code with leading whitespace',
    family: 'primitive',
    file: PATIENT,
    mutate: (d) => (d.gender = ' male'),
    expect: [issue('fhir-primitive-format', 'Patient.gender')],
  },
  {
    name: 'string with a control character',
    family: 'primitive',
    file: ORGANIZATION,
    mutate: (d) => (d.name = 'Les Ch\u0001nes Verts'),
    expect: [issue('fhir-primitive-format', 'Organization.name')],
  },
  {
    name: 'string with leading/trailing whitespace (warning)',
    family: 'primitive',
    file: ORGANIZATION,
    mutate: (d) => (d.name = ' Les Chênes Verts '),
    expect: [issue('fhir-string-whitespace', 'Organization.name', 'warning')],
  },
  {
    name: 'decimal out of range (1e400 parses to Infinity)',
    family: 'primitive',
    file: TASK_TRANSPORT_PRO,
    mutate: (d) => (input(d, 'budgetReel').valueMoney.value = JSON.parse('1e400')),
    expect: [issue('fhir-primitive-format', 'Task.input[2].valueMoney.value')],
  },
  {
    name: 'decimal as a JSON string',
    family: 'primitive',
    file: TASK_TRANSPORT_PRO,
    mutate: (d) => (input(d, 'budgetReel').valueMoney.value = '2'),
    expect: [issue('fhir-json-type', 'Task.input[2].valueMoney.value')],
  },
  {
    name: 'integer with decimals (SERAFIN answer)',
    family: 'primitive',
    file: QR_SERAFIN,
    mutate: (d) => (d.item[0].answer[0].valueInteger = 30.5),
    expect: [issue('fhir-primitive-format', 'QuestionnaireResponse.item[0].answer[0].valueInteger')],
  },
  {
    name: 'integer beyond 32 bits',
    family: 'primitive',
    file: QR_SERAFIN,
    mutate: (d) => (d.item[0].answer[0].valueInteger = 3_000_000_000),
    expect: [issue('fhir-primitive-format', 'QuestionnaireResponse.item[0].answer[0].valueInteger')],
  },
  {
    name: 'positiveInt 0 (birth order): format error and range warning',
    family: 'primitive',
    file: PATIENT,
    mutate: (d) => (d._birthDate.extension[0].valuePositiveInt = 0),
    expect: [
      issue('fhir-primitive-format', 'Patient.birthDate.extension[0].valuePositiveInt'),
      issue('tddui-birth-order-range', 'Patient.birthDate.extension[0].valuePositiveInt', 'warning'),
    ],
  },
  {
    name: 'boolean as a string (situation SSIAD answer)',
    family: 'primitive',
    file: QR_SITUATION,
    mutate: (d) => (d.item[0].answer[0].valueBoolean = 'false'),
    expect: [issue('fhir-json-type', 'QuestionnaireResponse.item[0].answer[0].valueBoolean')],
  },
  {
    name: 'oid with a leading zero in an arc (extension valueOid)',
    family: 'primitive',
    file: PATIENT,
    mutate: (d) => (d.identifier[0].extension = [{ url: 'http://example.org/fhir/StructureDefinition/x-oid', valueOid: 'urn:oid:1.2.03' }]),
    expect: [issue('fhir-primitive-format', 'Patient.identifier[0].extension[0].valueOid')],
  },
  {
    name: 'uuid without the urn:uuid: prefix (extension valueUuid)',
    family: 'primitive',
    file: PATIENT,
    mutate: (d) => (d.identifier[0].extension = [{ url: 'http://example.org/fhir/StructureDefinition/x-uuid', valueUuid: A_UUID.slice(9) }]),
    expect: [issue('fhir-primitive-format', 'Patient.identifier[0].extension[0].valueUuid')],
  },

  // ---------------------------------------------------------------- cardinality
  {
    name: 'évènement without period.end (profile 1..1)',
    family: 'cardinality',
    file: EVENEMENT,
    mutate: (d) => delete d.period.end,
    expect: [issue('fhir-cardinality-min', 'Encounter.period', 'error', /Encounter\.period\.end/)],
  },
  {
    name: 'évènement without status (base 1..1)',
    family: 'cardinality',
    file: EVENEMENT,
    mutate: (d) => delete d.status,
    expect: [issue('fhir-cardinality-min', 'Encounter', 'error', /Encounter\.status/)],
  },
  {
    name: 'Task without intent',
    family: 'cardinality',
    file: TASK_TRANSPORT_USAGER,
    mutate: (d) => delete d.intent,
    expect: [issue('fhir-cardinality-min', 'Task', 'error', /Task\.intent/)],
  },
  {
    name: 'QuestionnaireResponse without questionnaire (profile 1..1)',
    family: 'cardinality',
    file: QR_AGGIR,
    mutate: (d) => delete d.questionnaire,
    expect: [issue('fhir-cardinality-min', 'QuestionnaireResponse', 'error', /QuestionnaireResponse\.questionnaire/)],
  },
  {
    name: 'Bundle without type',
    family: 'cardinality',
    file: SSIAD,
    mutate: (d) => delete d.type,
    expect: [issue('fhir-cardinality-min', 'Bundle', 'error', /Bundle\.type/)],
  },
  {
    name: 'entry.request without url',
    family: 'cardinality',
    file: SSIAD,
    mutate: (d) => delete d.entry[4].request.url,
    expect: [issue('fhir-cardinality-min', 'Bundle.entry[4].request', 'error', /Bundle\.entry\.request\.url/)],
  },
  {
    name: 'CarePlan without title (profile 1..1)',
    family: 'cardinality',
    file: CAREPLAN,
    mutate: (d) => delete d.title,
    expect: [issue('fhir-cardinality-min', 'CarePlan', 'error', /CarePlan\.title/)],
  },
  {
    name: 'besoin without code.text (profile 1..1)',
    family: 'cardinality',
    file: SERVICE_REQUEST,
    mutate: (d) => (d.code = { coding: [{ system: 'http://example.org/besoin', code: 'x' }] }),
    expect: [issue('fhir-cardinality-min', 'ServiceRequest.code', 'error', /ServiceRequest\.code\.text/)],
  },
  {
    name: 'accord without dateTime (profile 1..1)',
    family: 'cardinality',
    file: CONSENT,
    mutate: (d) => delete d.dateTime,
    expect: [issue('fhir-cardinality-min', 'Consent', 'error', /Consent\.dateTime/)],
  },
  {
    name: 'extension without url',
    family: 'cardinality',
    file: EVENEMENT,
    mutate: (d) => delete d.extension[3].url,
    expect: [issue('fhir-cardinality-min', 'Encounter.extension[3]', 'error', /Extension\.url/)],
  },
  {
    name: 'évènement with two identifiers (profile 1..1)',
    family: 'cardinality',
    file: EVENEMENT,
    mutate: (d) => d.identifier.push({ ...d.identifier[0], value: '3480787529/147720425367411-EVN-2' }),
    expect: [issue('fhir-cardinality-max', 'Encounter.identifier')],
  },
  {
    name: 'Practitioner with two names (profile 0..1)',
    family: 'cardinality',
    file: PRACTITIONER,
    mutate: (d) => d.name.push({ family: 'Martin-Durand' }),
    expect: [issue('fhir-cardinality-max', 'Practitioner.name')],
  },
  {
    name: 'PP with two categories (profile 0..1)',
    family: 'cardinality',
    file: CAREPLAN,
    mutate: (d) => (d.category = [{ text: 'a' }, { text: 'b' }]),
    expect: [issue('fhir-cardinality-max', 'CarePlan.category')],
  },
  {
    name: 'action with two basedOn (profile 1..1)',
    family: 'cardinality',
    file: TASK_ACTION,
    mutate: (d) => d.basedOn.push({ reference: 'CarePlan/tddui-pp-pa-careplan-example' }),
    expect: [issue('fhir-cardinality-max', 'Task.basedOn')],
  },

  // ---------------------------------------------------------------- choice types
  {
    name: 'two value[x] in one answer',
    family: 'choice',
    file: QR_SITUATION,
    mutate: (d) => (d.item[0].answer[0].valueString = 'non'),
    expect: [issue('fhir-choice-multiple', 'QuestionnaireResponse.item[0].answer[0]', 'error', /valueBoolean, valueString/)],
  },
  {
    name: 'deceasedBoolean and deceasedDateTime at once',
    family: 'choice',
    file: PATIENT,
    mutate: (d) => Object.assign(d, { deceasedBoolean: false, deceasedDateTime: '2020-01-01' }),
    expect: [issue('fhir-choice-multiple', 'Patient', 'error', /deceasedBoolean, deceasedDateTime/)],
  },
  {
    name: 'value[x] with a misspelt type suffix (valueBool)',
    family: 'choice',
    file: QR_SITUATION,
    mutate: (d) => {
      const a = d.item[0].answer[0];
      a.valueBool = a.valueBoolean;
      delete a.valueBoolean;
    },
    expect: [issue('fhir-unknown-element', 'QuestionnaireResponse.item[0].answer[0].valueBool')],
  },
  {
    name: 'multipleBirth[x] with a type it does not have (multipleBirthString)',
    family: 'choice',
    file: PATIENT,
    mutate: (d) => (d.multipleBirthString = '2'),
    expect: [issue('fhir-type-not-allowed', 'Patient.multipleBirthString')],
  },
  {
    name: 'start[x] with a type it does not have (startDateTime)',
    family: 'choice',
    file: GOAL_OBJECTIF,
    mutate: (d) => (d.startDateTime = '2024-01-01T00:00:00Z'),
    expect: [issue('fhir-type-not-allowed', 'Goal.startDateTime')],
  },
  {
    name: 'input:distance given as valueQuantity (slice allows Distance only)',
    family: 'choice',
    file: TASK_TRANSPORT_USAGER,
    mutate: (d) => {
      const i = input(d, 'distance');
      i.valueQuantity = i.valueDistance;
      delete i.valueDistance;
    },
    expect: [issue('fhir-type-not-allowed', 'Task.input[2].valueQuantity')],
  },

  // ---------------------------------------------------------------- fixed / pattern values
  {
    name: 'Bundle.type batch (pattern transaction)',
    family: 'fixed-pattern',
    file: SSIAD,
    mutate: (d) => (d.type = 'batch'),
    expect: [issue('fhir-pattern-value', 'Bundle.type')],
  },
  {
    name: 'request.method PUT (pattern POST)',
    family: 'fixed-pattern',
    file: SSIAD,
    mutate: (d) => (d.entry[0].request.method = 'PUT'),
    expect: [issue('fhir-pattern-value', 'Bundle.entry[0].request.method')],
  },
  {
    name: 'request.method PUT in the PP bundle',
    family: 'fixed-pattern',
    file: PP,
    mutate: (d) => (d.entry[12].request.method = 'PUT'),
    expect: [issue('fhir-pattern-value', 'Bundle.entry[12].request.method')],
  },
  {
    name: 'séjour identifier with the évènement system',
    family: 'fixed-pattern',
    file: SSIAD,
    mutate: (d) => (res(d, 2).identifier[0].system = 'https://identifiant-medicosocial-evenement.esante.gouv.fr'),
    expect: [issue('fhir-pattern-value', 'Bundle.entry[2].resource.identifier[0].system')],
  },
  {
    name: 'PP identifier with the objectif system',
    family: 'fixed-pattern',
    file: CAREPLAN,
    mutate: (d) => (d.identifier[0].system = 'https://identifiant-medicosocial-objectif.esante.gouv.fr'),
    expect: [issue('fhir-pattern-value', 'CarePlan.identifier[0].system')],
  },
  {
    name: 'transport usager identifier with the transport professionnel system',
    family: 'fixed-pattern',
    file: TASK_TRANSPORT_USAGER,
    mutate: (d) => (d.identifier[0].system = 'https://identifiant-medicosocial-transportprofessionnel.esante.gouv.fr'),
    expect: [issue('fhir-pattern-value', 'Task.identifier[0].system')],
  },
  {
    name: 'evaluation identifier (single, not an array) with the évènement system',
    family: 'fixed-pattern',
    file: QR_AGGIR,
    mutate: (d) => (d.identifier.system = 'https://identifiant-medicosocial-evenement.esante.gouv.fr'),
    expect: [issue('fhir-pattern-value', 'QuestionnaireResponse.identifier.system')],
  },
  {
    name: 'type:text slice with another display (pattern "Not Permitted")',
    family: 'fixed-pattern',
    file: EVENEMENT,
    mutate: (d) => (d.type[1].coding[0].display = 'Non permis'),
    expect: [issue('fhir-pattern-value', 'Encounter.type[1].coding[0].display')],
  },
  {
    name: 'type:text slice with another code (pattern not-permitted)',
    family: 'fixed-pattern',
    file: EVENEMENT,
    mutate: (d) => (d.type[1].coding[0].code = 'unknown'),
    expect: [issue('fhir-pattern-value', 'Encounter.type[1].coding[0].code')],
  },

  // ---------------------------------------------------------------- slicing
  {
    name: 'PP without supportingInfo:accordStructure (1..*)',
    family: 'slicing',
    file: CAREPLAN,
    mutate: (d) => (d.supportingInfo[0].extension[0].valueCodeableConcept.coding[0].code = 'accordUsager'),
    expect: [issue('fhir-slice-cardinality-min', 'CarePlan', 'error', /supportingInfo:accordStructure/)],
  },
  {
    name: 'objectif without note:titreObjectif (1..1)',
    family: 'slicing',
    file: GOAL_OBJECTIF,
    mutate: (d) => (d.note[0].extension[0].valueCodeableConcept.coding[0].code = 'avisUsagerObjectif'),
    expect: [issue('fhir-slice-cardinality-min', 'Goal', 'error', /note:titreObjectif/)],
  },
  {
    name: 'attente without extension:referenceProjetPerso (1..1)',
    family: 'slicing',
    file: GOAL_ATTENTE,
    mutate: (d) => d.extension.splice(0, 1, { url: `${TDDUI_SD}tddui-comment`, valueString: 'x' }),
    expect: [issue('fhir-slice-cardinality-min', 'Goal', 'error', /extension:referenceProjetPerso/)],
  },
  {
    name: 'action without input:titre (1..1)',
    family: 'slicing',
    file: TASK_ACTION,
    mutate: (d) => d.input.splice(0, 1),
    expect: [issue('fhir-slice-cardinality-min', 'Task', 'error', /input:titre/)],
  },
  {
    name: 'séjour identifier whose type no longer matches idStay (1..1)',
    family: 'slicing',
    file: SEJOUR,
    mutate: (d) => (d.identifier[0].type.coding[0].code = 'XXX'),
    // Said at the identifier that came closest, with what differs (issue 20).
    expect: [issue('fhir-slice-cardinality-min', 'Encounter.identifier[0]', 'error', /identifier:idStay: minimum required = 1, but only found 0 \(an element belongs to this slice when type\.coding\.system = "[^"]+" and type\.coding\.code = "SEJ".*\); closest element: Encounter\.identifier\[0\], where type\.coding\.code is "XXX", not "SEJ"$/)],
  },
  {
    name: 'action with two input:titre (max 1)',
    family: 'slicing',
    file: TASK_ACTION,
    mutate: (d) => d.input.push(structuredClone(d.input[0])),
    expect: [issue('fhir-slice-cardinality-max', 'Task.input', 'error', /input:titre/)],
  },
  {
    name: 'transport usager with two input:accompagnement (max 1)',
    family: 'slicing',
    file: TASK_TRANSPORT_USAGER,
    mutate: (d) => d.input.push(structuredClone(input(d, 'accompagnement'))),
    expect: [issue('fhir-slice-cardinality-max', 'Task.input', 'error', /input:accompagnement/)],
  },
  {
    name: 'ressources-used with two TDDUIRessourceType sub-extensions (max 1)',
    family: 'slicing',
    file: EVENEMENT,
    mutate: (d) => d.extension[0].extension.push(structuredClone(d.extension[0].extension[0])),
    expect: [issue('fhir-slice-cardinality-max', 'Encounter.extension[0].extension', 'error', /TDDUIRessourceType/)],
  },

  // ---------------------------------------------------------------- extensions
  {
    name: 'unknown extension url in the TDDUI namespace (the TDDUI package is complete: it does not exist)',
    family: 'extension',
    file: EVENEMENT,
    mutate: (d) => d.extension.push({ url: `${TDDUI_SD}tddui-event-colour`, valueString: 'bleu' }),
    expect: [issue('fhir-extension-undefined', 'Encounter.extension[5]', 'error', /tddui-event-colour.*ans\.fhir\.fr\.tddui#2\.2\.0/)],
  },
  {
    name: 'a typo in a TDDUI extension url: an error that names the closest TDDUI extension',
    family: 'extension',
    file: SEJOUR,
    mutate: (d) => (d.extension[0].url = `${TDDUI_SD}tddui-admision-date`),
    expect: [issue('fhir-extension-undefined', 'Encounter.extension[0]', 'error', /did you mean https:\/\/\S+\/tddui-admission-date\?/)],
  },
  {
    name: 'unknown extension url of a package loaded only partly (FR Core): not checked, a warning',
    family: 'extension',
    file: EVENEMENT,
    mutate: (d) => d.extension.push({ url: 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-event-colour', valueString: 'bleu' }),
    expect: [issue('fhir-extension-unknown', 'Encounter.extension[5]', 'warning', /fr-core-event-colour/)],
  },
  {
    name: 'meta.profile naming a TDDUI profile that does not exist',
    family: 'extension',
    file: PATIENT,
    mutate: (d) => (d.meta.profile = [`${TDDUI_SD}tddui-patient-xyz`]),
    expect: [issue('fhir-profile-undefined', 'Patient', 'error', /tddui-patient-xyz/)],
  },
  {
    name: 'tddui-admission-date with valueDate (dateTime only)',
    family: 'extension',
    file: SEJOUR,
    mutate: (d) => {
      d.extension[0].valueDate = '2023-04-11';
      delete d.extension[0].valueDateTime;
    },
    expect: [issue('fhir-type-not-allowed', 'Encounter.extension[0].valueDate')],
  },
  {
    name: 'tddui-birth-order with valueInteger (positiveInt only)',
    family: 'extension',
    file: PATIENT,
    mutate: (d) => {
      const e = d._birthDate.extension[0];
      e.valueInteger = e.valuePositiveInt;
      delete e.valuePositiveInt;
    },
    expect: [issue('fhir-type-not-allowed', 'Patient.birthDate.extension[0].valueInteger')],
  },
  {
    name: 'tddui-event-label with valueMarkdown (string only)',
    family: 'extension',
    file: EVENEMENT,
    mutate: (d) => {
      d.extension[3].valueMarkdown = d.extension[3].valueString;
      delete d.extension[3].valueString;
    },
    expect: [issue('fhir-type-not-allowed', 'Encounter.extension[3].valueMarkdown')],
  },
  {
    name: 'tddui-comment with valueBoolean (string only)',
    family: 'extension',
    file: QR_SERAFIN,
    mutate: (d) => {
      d.extension[0].valueBoolean = true;
      delete d.extension[0].valueString;
    },
    expect: [issue('fhir-type-not-allowed', 'QuestionnaireResponse.extension[0].valueBoolean')],
  },
  {
    name: 'tddui-admission-date on a Patient (context Encounter)',
    family: 'extension',
    file: PATIENT,
    mutate: (d) => d.extension.push({ url: `${TDDUI_SD}tddui-admission-date`, valueDateTime: '2023-04-11' }),
    expect: [issue('fhir-extension-context', 'Patient.extension[1]', 'error', /allowed contexts: Encounter/)],
  },
  {
    name: 'tddui-event-report on a Patient (context Encounter)',
    family: 'extension',
    file: PATIENT,
    mutate: (d) => d.extension.push({ url: `${TDDUI_SD}tddui-event-report`, valueString: 'x' }),
    expect: [issue('fhir-extension-context', 'Patient.extension[1]')],
  },
  {
    name: 'tddui-birth-order moved from birthDate to the Patient',
    family: 'extension',
    file: PATIENT,
    mutate: (d) => {
      d.extension.push(d._birthDate.extension[0]);
      delete d._birthDate;
    },
    expect: [
      issue('fhir-extension-context', 'Patient.extension[1]', 'error', /allowed contexts: Patient\.birthDate/),
      issue('tddui-birth-order-required', 'Patient.birthDate', 'warning'),
    ],
  },
  {
    name: 'tddui-birth-order on a HumanName',
    family: 'extension',
    file: PATIENT,
    mutate: (d) => d.name[0].extension.push(d._birthDate.extension[0]),
    expect: [issue('fhir-extension-context', 'Patient.name[0].extension[1]')],
  },
  {
    name: 'unknown modifierExtension on the Patient',
    family: 'extension',
    file: PATIENT,
    mutate: (d) => (d.modifierExtension = [{ url: 'https://dui-vendor.fr/fhir/StructureDefinition/x-mod', valueBoolean: true }]),
    expect: [issue('fhir-modifier-extension-unknown', 'Patient.modifierExtension[0]')],
  },
  {
    name: 'extension of no known package on the Patient (the HL7 validator: "could not be found so is not allowed here")',
    family: 'extension',
    file: PATIENT,
    mutate: (d) => (d.extension ??= []).push({ url: 'https://dui-vendor.fr/fhir/StructureDefinition/x-note', valueString: 'note' }),
    expect: [issue('fhir-extension-not-found', 'Patient.extension[1]')],
  },
  {
    name: 'unknown TDDUI-namespace modifierExtension on a QR item (does not exist)',
    family: 'extension',
    file: QR_SITUATION,
    mutate: (d) => (d.item[0].modifierExtension = [{ url: `${TDDUI_SD}tddui-negation`, valueBoolean: true }]),
    expect: [issue('fhir-extension-undefined', 'QuestionnaireResponse.item[0].modifierExtension[0]')],
  },

  {
    name: 'a resource extension with a relative url (only parts of a complex extension have one)',
    family: 'extension',
    file: EVENEMENT,
    mutate: (d) => d.extension.push({ url: 'TDDUIComment', valueString: 'RAS' }),
    expect: [issue('fhir-extension-url-relative', `Encounter.extension[${original(EVENEMENT).extension.length}].url`, 'error')],
  },

  // ---------------------------------------------------------------- bindings
  {
    name: 'Patient.gender "other" (FR Core INS gender value set, required)',
    family: 'binding',
    file: PATIENT,
    mutate: (d) => (d.gender = 'other'),
    expect: [issue('fhir-code-invalid', 'Patient.gender', 'error', /fr-core-vs-patient-gender-INS/)],
  },
  {
    name: 'Patient.gender "foo" in the SSIAD bundle',
    family: 'binding',
    file: SSIAD,
    mutate: (d) => (res(d, 0).gender = 'foo'),
    expect: [issue('fhir-code-invalid', 'Bundle.entry[0].resource.gender', 'error', /gender/)],
  },
  {
    name: 'RelatedPerson.gender "other"',
    family: 'binding',
    file: RELATED_PERSON,
    mutate: (d) => (d.gender = 'other'),
    expect: [issue('fhir-code-invalid', 'RelatedPerson.gender')],
  },
  {
    name: 'Encounter.status "bogus"',
    family: 'binding',
    file: SSIAD,
    mutate: (d) => (res(d, 3).status = 'bogus'),
    expect: [
      issue('fhir-code-invalid', 'Bundle.entry[3].resource.status', 'error', /encounter-status/),
      issue('tddui-event-status', 'Bundle.entry[3].resource.status', 'warning'),
    ],
  },
  {
    name: 'QuestionnaireResponse.status "done"',
    family: 'binding',
    file: QR_AGGIR,
    mutate: (d) => (d.status = 'done'),
    expect: [issue('fhir-code-invalid', 'QuestionnaireResponse.status', 'error', /questionnaire-answers-status/)],
  },
  {
    name: 'Task.status "finished"',
    family: 'binding',
    file: TASK_TRANSPORT_USAGER,
    mutate: (d) => (d.status = 'finished'),
    expect: [issue('fhir-code-invalid', 'Task.status')],
  },
  {
    name: 'Task.intent "foo"',
    family: 'binding',
    file: TASK_ACTION,
    mutate: (d) => (d.intent = 'foo'),
    expect: [issue('fhir-code-invalid', 'Task.intent')],
  },
  {
    name: 'Goal.lifecycleStatus "done"',
    family: 'binding',
    file: GOAL_OBJECTIF,
    mutate: (d) => (d.lifecycleStatus = 'done'),
    expect: [issue('fhir-code-invalid', 'Goal.lifecycleStatus')],
  },
  {
    name: 'Consent.status "signed"',
    family: 'binding',
    file: CONSENT,
    mutate: (d) => (d.status = 'signed'),
    expect: [issue('fhir-code-invalid', 'Consent.status')],
  },
  {
    name: 'Organization identifier type not in the FR Core value set',
    family: 'binding',
    file: ORGANIZATION,
    mutate: (d) => (d.identifier[0].type.coding[0].code = 'XYZ'),
    expect: [issue('fhir-code-invalid', 'Organization.identifier[0].type', 'error', /fr-core-vs-organization-identifier-type/)],
  },
  {
    name: 'Patient identifier type from a foreign system (tddui-patient-identifier, required)',
    family: 'binding',
    file: PATIENT,
    mutate: (d) => (d.identifier[0].type.coding[0] = { system: 'http://example.org/id-type', code: 'PI' }),
    expect: [issue('fhir-code-invalid', 'Patient.identifier[0].type', 'error', /tddui-patient-identifier/)],
  },
  {
    name: 'évènement participant type not in tddui-encounter-participant',
    family: 'binding',
    file: EVENEMENT,
    mutate: (d) => (d.participant[0].type[0].coding[0].code = 'ZZZ'),
    expect: [issue('fhir-code-invalid', 'Encounter.participant[0].type[0]', 'error', /tddui-encounter-participant/)],
  },
  {
    name: 'transport input type not in tddui-task-input-transport',
    family: 'binding',
    file: TASK_TRANSPORT_USAGER,
    mutate: (d) => (input(d, 'budgetPrevisionnel').type.coding[0].code = 'prix'),
    expect: [issue('fhir-code-invalid', 'Task.input[0].type', 'error', /tddui-task-input-transport/)],
  },
  {
    name: 'PP category without a code (required binding)',
    family: 'binding',
    file: CAREPLAN,
    mutate: (d) => (d.category = [{ text: 'Projet personnalisé' }]),
    expect: [issue('fhir-code-missing', 'CarePlan.category[0]')],
  },
  {
    name: 'Encounter.class outside v3-ActEncounterCode (extensible: warning)',
    family: 'binding',
    file: EVENEMENT,
    mutate: (d) => (d.class.code = 'ZZZ'),
    expect: [issue('fhir-code-not-in-extensible', 'Encounter.class', 'warning')],
  },
  {
    name: 'évènement identifier type outside the FR Core encounter identifier types (extensible: warning)',
    family: 'binding',
    file: EVENEMENT,
    mutate: (d) => (d.identifier[0].type.coding[0] = { system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }),
    expect: [issue('fhir-code-not-in-extensible', 'Encounter.identifier[0].type', 'warning', /fr-core-vs-encounter-identifier-type/)],
  },
  {
    name: 'Patient.maritalStatus from a local system (extensible: warning)',
    family: 'binding',
    file: PATIENT,
    mutate: (d) => (d.maritalStatus = { coding: [{ system: 'http://example.org/marital', code: 'PACS' }] }),
    expect: [issue('fhir-code-not-in-extensible', 'Patient.maritalStatus', 'warning')],
  },

  // Codings against their code system, whatever the binding (Terminology.checkCoding).
  {
    name: 'a code the TDDUI discriminator code system does not define (extension, no binding)',
    family: 'binding',
    file: CAREPLAN,
    mutate: (d) => (d.supportingInfo[0].extension[0].valueCodeableConcept.coding[0].code = 'accordStructur'),
    expect: [issue('fhir-code-unknown', 'CarePlan.supportingInfo[0].extension[0].valueCodeableConcept.coding[0].code', 'error', /accordStructur/)],
  },
  {
    name: 'a code not in the R4 copy of a THO code system: a warning (hl7.terminology is not loaded)',
    family: 'binding',
    file: EVENEMENT,
    mutate: (d) => (d.participant[0].type[0].coding[0].code = 'PARTX'),
    expect: [issue('fhir-code-unknown-tho', 'Encounter.participant[0].type[0].coding[0].code', 'warning')],
    absent: [{ rule: 'fhir-code-unknown', expression: 'Encounter.participant[0].type[0].coding[0].code' }],
  },
  {
    name: 'a display the code system does not give',
    family: 'binding',
    file: SEJOUR,
    mutate: (d) => (d.identifier[0].type.coding[0].display = 'Identifiant de l\u2019usager'),
    expect: [issue('fhir-code-display', 'Encounter.identifier[0].type.coding[0].display', 'warning', /Identifiant du séjour/)],
  },
  {
    name: 'a Coding.system that is a local name, not a URI',
    family: 'binding',
    file: SEJOUR,
    mutate: (d) => (d.identifier[0].type.coding[0].system = 'tddui-encounter-identifier'),
    expect: [issue('fhir-system-not-absolute', 'Encounter.identifier[0].type.coding[0].system', 'error')],
  },
  {
    name: 'a Coding.system that is the url of a value set',
    family: 'binding',
    file: SEJOUR,
    mutate: (d) => (d.identifier[0].type.coding[0].system = 'https://interop.esante.gouv.fr/ig/fhir/tddui/ValueSet/tddui-patient-identifier'),
    expect: [issue('fhir-coding-system-is-valueset', 'Encounter.identifier[0].type.coding[0].system', 'error')],
  },
  {
    name: 'an Identifier.system that is a local name, not a URI',
    family: 'primitive',
    file: SSIAD,
    mutate: (d) => (res(d, 2).identifier[0].system = 'sejours'),
    expect: [issue('fhir-system-not-absolute', 'Bundle.entry[2].resource.identifier[0].system', 'error', /Identifier.system/)],
  },
  {
    name: 'control: a display differing only by case and spacing',
    family: 'binding',
    file: SEJOUR,
    mutate: (d) => (d.identifier[0].type.coding[0].display = '  IDENTIFIANT   du SÉJOUR '),
    expect: [],
    absent: [{ rule: 'fhir-code-display', expression: 'Encounter.identifier[0].type.coding[0].display' }],
  },

  // ---------------------------------------------------------------- invariants
  {
    name: 'évènement period ending before it starts: tddui-period-order replaces per-1',
    family: 'invariant',
    file: SSIAD,
    mutate: (d) => (res(d, 3).period = { start: '2023-04-14T11:15:00+02:00', end: '2023-04-14T10:30:00+02:00' }),
    expect: [issue('tddui-period-order', 'Bundle.entry[3].resource.period')],
    absent: [{ rule: 'fhir-invariant', expression: 'Bundle.entry[3].resource.period' }],
  },
  {
    name: 'transport executionPeriod ending before it starts',
    family: 'invariant',
    file: TASK_TRANSPORT_PRO,
    mutate: (d) => (d.executionPeriod.end = '2023-04-13'),
    expect: [issue('tddui-period-order', 'Task.executionPeriod')],
    absent: [{ rule: 'fhir-invariant', expression: 'Task.executionPeriod' }],
  },
  {
    name: 'séjour period ending before it starts',
    family: 'invariant',
    file: SEJOUR,
    mutate: (d) => (d.period.end = '2023-04-01'),
    expect: [issue('tddui-period-order', 'Encounter.period')],
    absent: [{ rule: 'fhir-invariant', expression: 'Encounter.period' }],
  },
  {
    name: 'MatDetailOnlyIfTypeOrg206: material detail with type ORG-207',
    family: 'invariant',
    file: SSIAD,
    mutate: (d) => (res(d, 3).extension[0].extension[0].valueCodeableConcept.coding[0].code = 'ORG-207'),
    expect: [issue('fhir-invariant', 'Bundle.entry[3].resource', 'error', /MatDetailOnlyIfTypeOrg206/)],
  },
  {
    name: 'MatDetailOnlyIfTypeOrg206: material detail without a resource type',
    family: 'invariant',
    file: EVENEMENT,
    mutate: (d) => d.extension[0].extension.splice(0, 1),
    expect: [issue('fhir-invariant', 'Encounter', 'error', /MatDetailOnlyIfTypeOrg206/)],
  },
  {
    name: 'FacilityOnlyIfTypeOrg207: facility detail with type ORG-206',
    family: 'invariant',
    file: EVENEMENT,
    mutate: (d) =>
      d.extension[0].extension.push({
        url: 'TDDUIFacilityResource',
        valueCodeableConcept: { coding: [{ system: CISIS, code: 'ORG-209' }] },
      }),
    expect: [issue('fhir-invariant', 'Encounter', 'error', /FacilityOnlyIfTypeOrg207/)],
  },
  {
    name: 'ppc-1: accord without policy nor policyRule',
    family: 'invariant',
    file: CONSENT,
    mutate: (d) => delete d.policy,
    expect: [issue('fhir-invariant', 'Consent', 'error', /ppc-1/)],
  },
  {
    name: 'ext-1: extension with both a value and sub-extensions',
    family: 'invariant',
    file: EVENEMENT,
    mutate: (d) => (d.extension[3].extension = [{ url: 'x', valueString: 'y' }]),
    expect: [issue('fhir-invariant', 'Encounter.extension[3]', 'error', /ext-1/)],
  },
  {
    name: 'ext-1: complex extension tddui-ressources-used given a value',
    family: 'invariant',
    file: EVENEMENT,
    mutate: (d) => (d.extension[0].valueString = 'x'),
    expect: [issue('fhir-invariant', 'Encounter.extension[0]', 'error', /ext-1/)],
  },
  {
    name: 'bdl-7: two entries with the same fullUrl',
    family: 'invariant',
    file: SSIAD,
    mutate: (d) => (d.entry[5].fullUrl = d.entry[4].fullUrl),
    expect: [issue('fhir-invariant', 'Bundle', 'error', /bdl-7/)],
  },
  {
    name: 'inv-1: Task lastModified before authoredOn',
    family: 'invariant',
    file: TASK_ACTION,
    mutate: (d) => Object.assign(d, { authoredOn: '2024-02-01', lastModified: '2024-01-01' }),
    expect: [issue('fhir-invariant', 'Task', 'error', /inv-1/)],
  },
  {
    name: 'qrs-1: item with both answers and nested items',
    family: 'invariant',
    file: QR_SITUATION,
    mutate: (d) => (d.item[0].item = [{ linkId: 'x', answer: [{ valueBoolean: true }] }]),
    expect: [issue('fhir-invariant', 'QuestionnaireResponse.item[0]', 'error', /qrs-1/)],
  },
  {
    name: 'pat-1: Patient.contact with no details',
    family: 'invariant',
    file: PATIENT,
    mutate: (d) => (d.contact = [{ gender: 'female' }]),
    expect: [issue('fhir-invariant', 'Patient.contact[0]', 'error', /pat-1/)],
  },

  // ---------------------------------------------------------------- narrative (Narrative.div: XHTML, txt-1, txt-2)
  {
    name: 'control: a generated narrative with a table, a link, an image and xml:lang',
    family: 'narrative',
    file: SSIAD,
    mutate: (d) =>
      (res(d, 1).text = {
        status: 'generated',
        div: `<div xmlns="http://www.w3.org/1999/xhtml" xml:lang="fr-FR"><p class="titre"><b>SSIAD</b> Les Lilas&#160;— FINESS 480787529</p><table border="1"><tr><th colspan="2">Adresse</th></tr><tr><td>Rue</td><td>1 rue des Lilas</td></tr></table><a href="https://annuaire.sante.fr">annuaire</a><img src="#logo" alt="logo"/></div>`,
      }),
    expect: [],
    absent: [
      { rule: 'fhir-narrative-content', expression: 'Bundle.entry[1].resource.text.div' },
      { rule: 'fhir-narrative-syntax', expression: 'Bundle.entry[1].resource.text.div' },
      { rule: 'fhir-narrative-root', expression: 'Bundle.entry[1].resource.text.div' },
      { rule: 'fhir-narrative-empty', expression: 'Bundle.entry[1].resource.text.div' },
    ],
  },
  {
    name: 'a <script> element in the narrative (txt-1)',
    family: 'narrative',
    file: SSIAD,
    mutate: (d) => (res(d, 0).text = { status: 'generated', div: XDIV('<p>Jean</p><script>fetch("//x")</script>') }),
    expect: [issue('fhir-narrative-content', 'Bundle.entry[0].resource.text.div', 'error', /<script>/)],
  },
  {
    name: 'an onclick event handler (txt-1)',
    family: 'narrative',
    file: PATIENT,
    mutate: (d) => (d.text = { status: 'generated', div: XDIV('<p onclick="steal()">Jean</p>') }),
    expect: [issue('fhir-narrative-content', 'Patient.text.div', 'error', /onclick/)],
  },
  {
    name: 'a javascript: link (txt-1)',
    family: 'narrative',
    file: PP,
    mutate: (d) => (res(d, 2).text = { status: 'additional', div: XDIV('<a href="JavaScript:alert(1)">voir</a>') }),
    expect: [issue('fhir-narrative-content', 'Bundle.entry[2].resource.text.div', 'error', /run code/)],
  },
  {
    name: 'a div without the XHTML namespace',
    family: 'narrative',
    file: ORGANIZATION,
    mutate: (d) => (d.text = { status: 'generated', div: '<div><p>SSIAD</p></div>' }),
    expect: [issue('fhir-narrative-root', 'Organization.text.div', 'error', /no namespace/)],
  },
  {
    name: 'an HTML entity (&nbsp;) in the narrative',
    family: 'narrative',
    file: SSIAD,
    mutate: (d) => (res(d, 4).text = { status: 'generated', div: XDIV('<p>Dr&nbsp;Martin</p>') }),
    expect: [issue('fhir-narrative-syntax', 'Bundle.entry[4].resource.text.div', 'error', /&nbsp;/)],
  },
  {
    name: 'an unclosed element in the narrative',
    family: 'narrative',
    file: CAREPLAN,
    mutate: (d) => (d.text = { status: 'generated', div: XDIV('<p>Projet<br></p>') }),
    expect: [issue('fhir-narrative-syntax', 'CarePlan.text.div', 'error', /does not match/)],
  },
  {
    name: 'an empty narrative (txt-2)',
    family: 'narrative',
    file: GOAL_OBJECTIF,
    mutate: (d) => (d.text = { status: 'empty', div: XDIV('<p> </p>') }),
    expect: [issue('fhir-narrative-empty', 'Goal.text.div', 'error')],
  },

  // ---------------------------------------------------------------- answers against their Questionnaire
  {
    name: 'an AGGIR adverb with a linkId the questionnaire does not have',
    family: 'questionnaire',
    file: QR_AGGIR,
    mutate: (d) => (d.item[0].answer[0].item[0].answer[0].item[0].linkId = 'pensee-spontanement'),
    expect: [issue('fhir-qr-item-unknown', 'QuestionnaireResponse.item[0].answer[0].item[0].answer[0].item[0].linkId', 'error', /pensee-spontanement/)],
  },
  {
    name: 'an AGGIR adverb answered with a string instead of a boolean',
    family: 'questionnaire',
    file: QR_AGGIR,
    mutate: (d) => (d.item[0].answer[0].item[0].answer[0].item[0].answer = [{ valueString: 'oui' }]),
    expect: [issue('fhir-qr-answer-type', 'QuestionnaireResponse.item[0].answer[0].item[0].answer[0].item[0].answer[0].valueString', 'error', /boolean/)],
  },
  {
    name: 'a GIR answer that is not one of the options',
    family: 'questionnaire',
    file: QR_AGGIR,
    mutate: (d) => (d.item[0].answer[0].valueCoding.code = 'MED-338'),
    expect: [issue('fhir-qr-answer-option', 'QuestionnaireResponse.item[0].answer[0].valueCoding', 'error', /MED-338/)],
  },
  {
    name: 'two AGGIR variables out of the questionnaire order',
    family: 'questionnaire',
    file: QR_AGGIR,
    mutate: (d) => {
      const vars = d.item[0].answer[0].item;
      [vars[0], vars[1]] = [vars[1], vars[0]];
    },
    expect: [issue('fhir-qr-item-order', 'QuestionnaireResponse.item[0].answer[0].item[1].linkId', 'error')],
  },
  {
    name: 'a situation SSIAD indicator given twice',
    family: 'questionnaire',
    file: QR_SITUATION,
    mutate: (d) => d.item.splice(1, 0, structuredClone(d.item[0])),
    expect: [issue('fhir-qr-item-repeated', 'QuestionnaireResponse.item[1].linkId', 'error')],
  },
  {
    name: 'a SERAFIN need with two answers',
    family: 'questionnaire',
    file: QR_SERAFIN,
    mutate: (d) => d.item[0].answer.push({ valueInteger: 21 }),
    expect: [issue('fhir-qr-answer-multiple', 'QuestionnaireResponse.item[0].answer[1]', 'error')],
  },
  {
    name: 'a questionnaire url in the TDDUI namespace that TDDUI does not define',
    family: 'questionnaire',
    file: QR_SERAFIN,
    mutate: (d) => (d.questionnaire = `${TDDUI_Q}tddui-questionnaire-serafin-ph`),
    expect: [issue('fhir-qr-questionnaire-undefined', 'QuestionnaireResponse.questionnaire', 'error')],
  },

  // ---------------------------------------------------------------- references
  {
    name: 'urn:uuid reference that no entry resolves (évènement subject)',
    family: 'reference',
    file: SSIAD,
    mutate: (d) => (res(d, 3).subject.reference = A_UUID),
    expect: [issue('fhir-reference-unresolved', 'Bundle.entry[3].resource.subject.reference')],
  },
  {
    name: 'urn:uuid reference that no entry resolves (evaluation subject, PP bundle)',
    family: 'reference',
    file: PP,
    mutate: (d) => (res(d, 11).subject.reference = A_UUID),
    expect: [issue('fhir-reference-unresolved', 'Bundle.entry[11].resource.subject.reference')],
  },
  {
    name: '#contained reference with no contained resource',
    family: 'reference',
    file: TASK_TRANSPORT_USAGER,
    mutate: (d) => (d.owner = { reference: '#org-1' }),
    expect: [
      issue('fhir-reference-unresolved', 'Task.owner.reference'),
      issue('fhir-invariant', 'Task.owner', 'error', /ref-1/),
    ],
  },
  {
    name: 'séjour subject pointing to the Organization',
    family: 'reference',
    file: SSIAD,
    mutate: (d) => (res(d, 2).subject.reference = 'Organization/tddui-organization-example'),
    expect: [issue('fhir-reference-target-type', 'Bundle.entry[2].resource.subject.reference')],
  },
  {
    name: 'transport professionnel "for" pointing to the usager',
    family: 'reference',
    file: SSIAD,
    mutate: (d) => (res(d, 6).for.reference = 'Patient/tddui-patient-ins-example'),
    expect: [issue('fhir-reference-target-type', 'Bundle.entry[6].resource.for.reference')],
  },
  {
    name: 'objectif addresses a Practitioner (PP bundle)',
    family: 'reference',
    file: PP,
    mutate: (d) => (res(d, 7).addresses[0].reference = 'Practitioner/tddui-pp-pa-practitioner-ide-example'),
    expect: [issue('fhir-reference-target-type', 'Bundle.entry[7].resource.addresses[0].reference')],
  },
  {
    name: 'accord performer pointing to a Goal (PP bundle)',
    family: 'reference',
    file: PP,
    mutate: (d) => (res(d, 1).performer[0].reference = 'Goal/tddui-pp-pa-goal-objectif-1-example'),
    expect: [issue('fhir-reference-target-type', 'Bundle.entry[1].resource.performer[0].reference')],
  },
  {
    name: 'action owner pointing to the usager (PP bundle)',
    family: 'reference',
    file: PP,
    mutate: (d) => (res(d, 16).owner.reference = 'Patient/tddui-pp-pa-patient-example-pp'),
    expect: [issue('fhir-reference-target-type', 'Bundle.entry[16].resource.owner.reference')],
  },
  {
    name: 'transport encounter pointing to the séjour (targetProfile évènement)',
    family: 'reference',
    file: SSIAD,
    mutate: (d) => (res(d, 7).encounter.reference = 'Encounter/tddui-encounter-sejour-example'),
    expect: [issue('fhir-reference-target-profile', 'Bundle.entry[7].resource.encounter.reference', 'error', /tddui-encounter-evenement/)],
  },
  {
    name: 'évènement partOf another évènement (targetProfile séjour)',
    family: 'reference',
    file: SSIAD,
    mutate: (d) => {
      const other = structuredClone(res(d, 3));
      other.id = 'tddui-encounter-evenement-2';
      other.identifier[0].value = '3480787529/147720425367411-EVN-12549';
      d.entry.push(newEntry(other));
      res(d, 3).partOf.reference = `Encounter/${other.id}`;
    },
    expect: [issue('fhir-reference-target-profile', 'Bundle.entry[3].resource.partOf.reference', 'error', /tddui-encounter-sejour/)],
  },
  {
    name: 'malformed reference (space in the id)',
    family: 'reference',
    file: SSIAD,
    mutate: (d) => (res(d, 5).practitioner.reference = 'Practitioner/ bad id'),
    expect: [issue('fhir-reference-format', 'Bundle.entry[5].resource.practitioner.reference')],
  },
  {
    name: 'reference to an Organization outside the Bundle (warning)',
    family: 'reference',
    file: SSIAD,
    mutate: (d) => (res(d, 2).serviceProvider.reference = 'Organization/other'),
    expect: [issue('fhir-reference-outside-bundle', 'Bundle.entry[2].resource.serviceProvider.reference', 'warning')],
  },

  {
    name: 'Reference.type naming another type than the resolved target',
    family: 'reference',
    file: SSIAD,
    mutate: (d) => (res(d, 2).subject.type = 'Group'),
    expect: [issue('fhir-reference-type-mismatch', 'Bundle.entry[2].resource.subject.type', 'error', /Patient/)],
  },
  {
    name: 'two contained resources with one id',
    family: 'reference',
    file: PATIENT,
    mutate: (d) => {
      d.contained = [
        { resourceType: 'Organization', id: 'org', name: 'SSIAD A' },
        { resourceType: 'Organization', id: 'org', name: 'SSIAD B' },
      ];
      d.managingOrganization = { reference: '#org' };
    },
    expect: [issue('fhir-contained-duplicate-id', 'Patient.contained[1].id', 'error')],
  },

  {
    name: 'Attachment.size that is not the size of the inline PDF',
    family: 'primitive',
    file: DOC_ENTRANT,
    mutate: (d) => (d.content[0].attachment.size = 12),
    expect: [issue('fhir-attachment-size', 'DocumentReference.content[0].attachment.size', 'error', /12 bytes/)],
  },
  {
    name: 'Attachment.hash that is not the SHA-1 of the inline PDF',
    family: 'primitive',
    file: DOC_ENTRANT,
    mutate: (d) => (d.content[0].attachment.hash = Buffer.from('not the hash of it').toString('base64')),
    expect: [issue('fhir-attachment-hash', 'DocumentReference.content[0].attachment.hash', 'error')],
  },
  {
    name: 'control: Attachment.size and .hash of the inline PDF',
    family: 'primitive',
    file: DOC_ENTRANT,
    mutate: (d) => {
      const bytes = Buffer.from(d.content[0].attachment.data, 'base64');
      d.content[0].attachment.size = bytes.length;
      d.content[0].attachment.hash = createHash('sha1').update(bytes).digest('base64');
    },
    expect: [],
    absent: [
      { rule: 'fhir-attachment-size', expression: 'DocumentReference.content[0].attachment.size' },
      { rule: 'fhir-attachment-hash', expression: 'DocumentReference.content[0].attachment.hash' },
    ],
  },

  // ---------------------------------------------------------------- Bundle entries
  {
    name: 'Observation entry (no TDDUI profile covers it), Bundle without meta.profile',
    family: 'bundle-entry',
    file: SSIAD,
    mutate: (d) => {
      delete d.meta;
      d.entry.push(newEntry(observation()));
    },
    expect: [
      issue('tddui-bundle-entry-type', 'Bundle.entry[8].resource', 'error', /Observation/),
      issue('fhir-slice-unmatched', 'Bundle.entry[8]', 'information'),
    ],
  },
  {
    name: 'Location entry in the PP bundle (fr-core-location is not a TDDUI profile)',
    family: 'bundle-entry',
    file: PP,
    mutate: (d) => {
      delete d.meta;
      d.entry.push(newEntry({ resourceType: 'Location', id: 'loc-1', name: 'Domicile' }));
    },
    expect: [issue('tddui-bundle-entry-type', 'Bundle.entry[25].resource', 'error', /Location/)],
  },
  {
    name: 'Group entry inserted in the middle of the SSIAD bundle',
    family: 'bundle-entry',
    file: SSIAD,
    mutate: (d) => {
      delete d.meta;
      d.entry.splice(4, 0, newEntry({ resourceType: 'Group', id: 'group-1', type: 'person', actual: true }));
    },
    expect: [issue('tddui-bundle-entry-type', 'Bundle.entry[4].resource', 'error', /Group/)],
  },
  {
    name: 'nested Bundle entry',
    family: 'bundle-entry',
    file: SSIAD,
    mutate: (d) => {
      delete d.meta;
      d.entry.push(newEntry({ resourceType: 'Bundle', id: 'inner', type: 'collection' }));
    },
    expect: [issue('tddui-bundle-entry-type', 'Bundle.entry[8].resource', 'error', /Bundle/)],
  },
  {
    name: 'Organization entry that matches no slice (identifier removed)',
    family: 'bundle-entry',
    file: SSIAD,
    mutate: (d) => delete res(d, 1).identifier,
    expect: [
      issue('fhir-slice-unmatched', 'Bundle.entry[1]', 'information', /tddui-organization/),
      issue('fhir-cardinality-min', 'Bundle.entry[1].resource', 'error', /Organization\.identifier/),
    ],
  },
  {
    name: 'entry without request in a transaction',
    family: 'bundle-entry',
    file: SSIAD,
    mutate: (d) => delete d.entry[6].request,
    expect: [
      issue('fhir-cardinality-min', 'Bundle.entry[6]', 'error', /Bundle\.entry\.request/),
      issue('fhir-invariant', 'Bundle', 'error', /bdl-3/),
    ],
  },

  {
    name: 'a RESTful fullUrl naming another id than its resource\u2019s',
    family: 'bundle-entry',
    file: SSIAD,
    mutate: (d) => (d.entry[4].fullUrl = d.entry[4].fullUrl.replace(/\/[^/]+$/, '/autre-id')),
    expect: [issue('fhir-bundle-fullurl-mismatch', 'Bundle.entry[4].fullUrl', 'error', /Practitioner\//)],
  },
  {
    name: 'a RESTful fullUrl naming another type than its resource\u2019s',
    family: 'bundle-entry',
    file: SSIAD,
    mutate: (d) => (d.entry[1].fullUrl = d.entry[1].fullUrl.replace('/Organization/', '/Location/')),
    expect: [issue('fhir-bundle-fullurl-mismatch', 'Bundle.entry[1].fullUrl', 'error', /\/Organization\//)],
  },
  {
    name: 'a RESTful fullUrl on a resource without id',
    family: 'bundle-entry',
    file: SSIAD,
    mutate: (d) => delete res(d, 2).id,
    expect: [issue('fhir-bundle-fullurl-no-id', 'Bundle.entry[2].fullUrl', 'warning')],
  },

  // ---------------------------------------------------------------- TDDUI business rules
  {
    name: 'tddui-nir-format: NIR of 14 characters',
    family: 'tddui-rule',
    file: SSIAD,
    mutate: (d) => (res(d, 0).identifier[0].value = '14772042536741'),
    expect: [issue('tddui-nir-format', 'Bundle.entry[0].resource.identifier[0].value')],
  },
  {
    name: 'tddui-nir-format: NIR starting with a letter',
    family: 'tddui-rule',
    file: PATIENT_INS,
    mutate: (d) => (d.identifier[0].value = 'A47720425367411'),
    expect: [issue('tddui-nir-format', 'Patient.identifier[0].value')],
  },
  {
    name: 'tddui-nir-key: Corsican NIR (2A) with a wrong key',
    family: 'tddui-rule',
    file: PATIENT_INS,
    mutate: (d) => (d.identifier[0].value = '147042A22000206'),
    expect: [issue('tddui-nir-key', 'Patient.identifier[0].value', 'warning', /147042A22000206.*the number gives 05/)],
  },
  {
    name: 'tddui-nir-key control: the official NIR with its right key (30)',
    family: 'tddui-rule',
    file: PATIENT_INS,
    mutate: (d) => (d.identifier[0].value = '147720425367430'),
    expect: [],
    absent: [{ rule: 'tddui-nir-key', expression: 'Patient.identifier[0].value' }],
    valid: true,
  },
  {
    name: 'tddui-nir-key control: Corsican NIR (2A → 19) with its right key',
    family: 'tddui-rule',
    file: PATIENT_INS,
    mutate: (d) => (d.identifier[0].value = '147042A22000205'),
    expect: [],
    absent: [
      { rule: 'tddui-nir-key', expression: 'Patient.identifier[0].value' },
      { rule: 'tddui-nir-format', expression: 'Patient.identifier[0].value' },
    ],
    valid: true,
  },
  {
    name: 'tddui-nir-consistency: female usager with a male NIR',
    family: 'tddui-rule',
    file: PATIENT_INS,
    mutate: (d) => (d.gender = 'female'),
    expect: [issue('tddui-nir-consistency', 'Patient.identifier[0].value', 'warning', /sex male/)],
  },
  {
    name: 'tddui-nir-consistency: birth year differs from the NIR',
    family: 'tddui-rule',
    file: SSIAD,
    mutate: (d) => (res(d, 0).birthDate = '1950-04-03'),
    expect: [issue('tddui-nir-consistency', 'Bundle.entry[0].resource.identifier[0].value', 'warning', /birth year 47/)],
  },
  {
    name: 'tddui-nir-consistency: birth month differs from the NIR',
    family: 'tddui-rule',
    file: PATIENT_INS,
    mutate: (d) => {
      d.identifier[0].value = '147042A22000205';
      d.birthDate = '1947-05-03';
    },
    expect: [issue('tddui-nir-consistency', 'Patient.identifier[0].value', 'warning', /birth month 04/)],
  },
  {
    name: 'tddui-finess-key: local usager id with FINESS 750000001 (key 2 expected)',
    family: 'tddui-rule',
    file: PATIENT,
    mutate: (d) => (d.identifier[0].value = '3750000001/194704032'),
    expect: [issue('tddui-finess-key', 'Patient.identifier[0].value', 'warning', /750000001/)],
  },
  {
    name: 'tddui-finess-key: idNatSt with FINESS 130780041',
    family: 'tddui-rule',
    file: ORGANIZATION,
    mutate: (d) => (d.identifier[0].value = '1130780041'),
    expect: [issue('tddui-finess-key', 'Organization.identifier[0].value', 'warning', /130780041/)],
  },
  {
    name: 'tddui-finess-key control: FINESS 480787522 (right Luhn key)',
    family: 'tddui-rule',
    file: PATIENT,
    mutate: (d) => (d.identifier[0].value = '3480787522/194704032'),
    expect: [],
    absent: [{ rule: 'tddui-finess-key', expression: 'Patient.identifier[0].value' }],
    valid: true,
  },
  {
    name: 'tddui-local-id-format: local id without the leading 3',
    family: 'tddui-rule',
    file: PATIENT,
    mutate: (d) => (d.identifier[0].value = '480787529/194704032'),
    expect: [issue('tddui-local-id-format', 'Patient.identifier[0].value', 'warning')],
  },
  {
    name: 'tddui-local-id-format: local id without the slash',
    family: 'tddui-rule',
    file: SSIAD,
    mutate: (d) => (res(d, 0).identifier[1].value = '3480787529194704032'),
    expect: [issue('tddui-local-id-format', 'Bundle.entry[0].resource.identifier[1].value', 'warning')],
  },
  {
    name: 'tddui-idnatps-format: RPPS number one digit short',
    family: 'tddui-rule',
    file: PRACTITIONER,
    mutate: (d) => (d.identifier[0].value = '8101034412'),
    expect: [issue('tddui-idnatps-format', 'Practitioner.identifier[0].value', 'warning', /"8101034412"/)],
  },
  {
    name: 'tddui-idnatps-format control: 8 + RPPS',
    family: 'tddui-rule',
    file: PRACTITIONER,
    mutate: (d) => (d.identifier[0].value = '810103441234'),
    expect: [],
    absent: [{ rule: 'tddui-idnatps-format', expression: 'Practitioner.identifier[0].value' }],
    valid: true,
  },
  {
    name: 'tddui-idnatst-format: idNatSt without the leading 1',
    family: 'tddui-rule',
    file: ORGANIZATION,
    mutate: (d) => (d.identifier[0].value = '480787529'),
    expect: [issue('tddui-idnatst-format', 'Organization.identifier[0].value', 'warning')],
  },
  {
    name: 'tddui-business-id-layout: TPPat tag under the transport professionnel system',
    family: 'tddui-rule',
    file: SSIAD,
    mutate: (d) => (res(d, 6).identifier[0].value = '3480787529/147720425367411-TPPat-154674'),
    expect: [issue('tddui-business-id-layout', 'Bundle.entry[6].resource.identifier[0].value', 'warning', /-TPPro-/)],
  },
  {
    name: 'tddui-business-id-layout: PP identifier without its number',
    family: 'tddui-rule',
    file: CAREPLAN,
    mutate: (d) => (d.identifier[0].value = '3480787529/123456789-PPER-'),
    expect: [issue('tddui-business-id-layout', 'CarePlan.identifier[0].value', 'warning')],
  },
  {
    name: 'tddui-business-id-layout: objectif identifier without the usager prefix',
    family: 'tddui-rule',
    file: GOAL_OBJECTIF,
    mutate: (d) => (d.identifier[0].value = 'OBJE-1234'),
    expect: [issue('tddui-business-id-layout', 'Goal.identifier[0].value', 'warning')],
  },
  {
    name: 'tddui-business-id-prefix: PP identifier of another usager',
    family: 'tddui-rule',
    file: PP,
    mutate: (d) => (res(d, 2).identifier[0].value = '3480787529/999999999-PPER-1234'),
    expect: [issue('tddui-business-id-prefix', 'Bundle.entry[2].resource.identifier[0].value', 'warning', /3480787529\/123456789/)],
  },
  {
    name: 'tddui-business-id-prefix: objectif identifier with another FINESS',
    family: 'tddui-rule',
    file: PP,
    mutate: (d) => (res(d, 7).identifier[0].value = '3480787522/123456789-OBJE-1234'),
    expect: [issue('tddui-business-id-prefix', 'Bundle.entry[7].resource.identifier[0].value', 'warning')],
  },
  {
    name: 'tddui-duplicate-business-id: two objectifs with one identifier',
    family: 'tddui-rule',
    file: PP,
    mutate: (d) => (res(d, 8).identifier[0].value = res(d, 7).identifier[0].value),
    expect: [issue('tddui-duplicate-business-id', 'Bundle.entry[8].resource.identifier[0].value', 'error', /Bundle\.entry\[7\]\.resource/)],
  },
  {
    name: 'tddui-duplicate-business-id: the transport usager sent twice',
    family: 'tddui-rule',
    file: SSIAD,
    mutate: (d) => {
      const copy = structuredClone(d.entry[7]);
      copy.resource.id = 'tddui-task-transport-usager-copy';
      copy.fullUrl = `https://test-server.fr/Task/${copy.resource.id}`;
      d.entry.push(copy);
    },
    expect: [issue('tddui-duplicate-business-id', 'Bundle.entry[8].resource.identifier[0].value')],
  },
  {
    name: 'tddui-request-url: Organization entry posted to "Patient"',
    family: 'tddui-rule',
    file: SSIAD,
    mutate: (d) => (d.entry[1].request.url = 'Patient'),
    expect: [issue('tddui-request-url', 'Bundle.entry[1].request.url', 'warning')],
  },
  {
    name: 'tddui-request-url: misspelt profile name',
    family: 'tddui-rule',
    file: PP,
    mutate: (d) => (d.entry[5].request.url = 'TDDUIGoalAttentes'),
    expect: [issue('tddui-request-url', 'Bundle.entry[5].request.url', 'warning')],
  },
  {
    name: 'tddui-request-url control: plain resource type',
    family: 'tddui-rule',
    file: PP,
    mutate: (d) => (d.entry[5].request.url = 'Goal'),
    expect: [],
    absent: [{ rule: 'tddui-request-url', expression: 'Bundle.entry[5].request.url' }],
    valid: true,
  },
  {
    name: 'tddui-period-order: PP period ending before it starts',
    family: 'tddui-rule',
    file: CAREPLAN,
    mutate: (d) => (d.period = { start: '2024-06-01', end: '2024-01-01' }),
    expect: [issue('tddui-period-order', 'CarePlan.period')],
  },
  {
    name: 'tddui-birth-order-required: usager without NIR nor birth order',
    family: 'tddui-rule',
    file: PATIENT,
    mutate: (d) => delete d._birthDate,
    expect: [issue('tddui-birth-order-required', 'Patient.birthDate', 'warning')],
  },
  {
    name: 'tddui-birth-order-range: birth order 1000',
    family: 'tddui-rule',
    file: PATIENT,
    mutate: (d) => (d._birthDate.extension[0].valuePositiveInt = 1000),
    expect: [issue('tddui-birth-order-range', 'Patient.birthDate.extension[0].valuePositiveInt', 'warning', /1000/)],
  },
  {
    name: 'tddui-ssiad-window-span: transport moved six weeks earlier',
    family: 'tddui-rule',
    file: SSIAD,
    mutate: (d) => (res(d, 7).executionPeriod = { start: '2023-03-01T10:30:00+01:00', end: '2023-03-01T11:15:00+01:00' }),
    expect: [issue('tddui-ssiad-window-span', 'Bundle.entry[7].resource', 'warning', /44 days/)],
  },
  {
    name: 'tddui-ssiad-window-age: évènement older than 5 weeks',
    family: 'tddui-rule',
    file: SSIAD,
    mutate: (d) => (res(d, 3).period = { start: '2023-03-20T10:30:00+01:00', end: '2023-03-20T11:15:00+01:00' }),
    expect: [issue('tddui-ssiad-window-age', 'Bundle.entry[3].resource.period.start', 'warning')],
    absent: [{ rule: 'tddui-ssiad-window-age', expression: 'Bundle.entry[7].resource.executionPeriod.start' }],
  },
  {
    name: 'tddui-ssiad-window-age: the whole bundle validated 11 weeks later (now = 2023-07-01)',
    family: 'tddui-rule',
    file: SSIAD,
    now: new Date('2023-07-01T00:00:00Z'),
    mutate: () => {},
    expect: [
      issue('tddui-ssiad-window-age', 'Bundle.entry[3].resource.period.start', 'warning', /event/),
      issue('tddui-ssiad-window-age', 'Bundle.entry[6].resource.executionPeriod.start', 'warning', /transport/),
      issue('tddui-ssiad-window-age', 'Bundle.entry[7].resource.executionPeriod.start', 'warning', /2023-07-01/),
    ],
  },
  {
    name: 'tddui-evaluation-actor: AGGIR evaluation without source',
    family: 'tddui-rule',
    file: QR_AGGIR,
    mutate: (d) => delete d.source,
    expect: [issue('tddui-evaluation-actor', 'QuestionnaireResponse', 'warning')],
  },
  {
    name: 'tddui-evaluation-actor control: a responsible (tddui-qr-participant) instead of a source',
    family: 'tddui-rule',
    file: QR_AGGIR,
    mutate: (d) => {
      delete d.source;
      d.extension = [
        {
          url: `${TDDUI_SD}tddui-qr-participant`,
          extension: [{ url: 'TDDUIResponsible', valueReference: { reference: 'Practitioner/tddui-practitioner-example' } }],
        },
      ];
    },
    expect: [],
    absent: [{ rule: 'tddui-evaluation-actor', expression: 'QuestionnaireResponse' }],
    valid: true,
  },
  {
    name: 'tddui-gir-only-aggir: GIR item in a situation SSIAD evaluation',
    family: 'tddui-rule',
    file: QR_SITUATION,
    mutate: (d) =>
      d.item.push({
        linkId: 'resultat-eval',
        text: 'Résultat évaluation',
        answer: [{ valueCoding: { system: CISIS, code: 'MED-340', display: 'GIR-2' } }],
      }),
    expect: [issue('tddui-gir-only-aggir', 'QuestionnaireResponse.item[7]', 'warning', /situation-ssiad/)],
  },
  {
    name: 'tddui-gir-only-aggir: AGGIR answers relabelled as a SERAFIN evaluation',
    family: 'tddui-rule',
    file: QR_AGGIR,
    mutate: (d) => (d.questionnaire = `${TDDUI_Q}tddui-questionnaire-serafin`),
    expect: [issue('tddui-gir-only-aggir', 'QuestionnaireResponse.item[0]', 'warning', /serafin/)],
  },
  {
    name: 'tddui-situation-aucun-motif: "aucun motif" true with "trouble cognitif" true',
    family: 'tddui-rule',
    file: QR_SITUATION,
    mutate: (d) => d.item.push({ linkId: 'aucun-motif', text: 'Aucun motif', answer: [{ valueBoolean: true }] }),
    expect: [issue('tddui-situation-aucun-motif', 'QuestionnaireResponse.item[7]', 'warning', /trouble-cognitif/)],
  },
  {
    name: 'tddui-event-status: évènement in-progress (SSIAD bundle)',
    family: 'tddui-rule',
    file: SSIAD,
    mutate: (d) => (res(d, 3).status = 'in-progress'),
    expect: [issue('tddui-event-status', 'Bundle.entry[3].resource.status', 'warning', /in-progress/)],
  },
  {
    name: 'tddui-event-status: évènement arrived',
    family: 'tddui-rule',
    file: EVENEMENT,
    mutate: (d) => (d.status = 'arrived'),
    expect: [issue('tddui-event-status', 'Encounter.status', 'warning')],
  },
];

// ------------------------------------------------------------------------------ known defects
//
// Mutations the validator does not handle correctly yet. Each runs as `test.todo`: the body
// states the expected behaviour, and its failure is reported without failing the suite.

interface KnownDefect {
  name: string;
  file: string;
  mutate(doc: Doc): void;
  /** What a correct validator must report (or not report) for the mutated document. */
  check(report: ValidationReport): void;
  /** Set once the engine handles the case: it then runs as a regular (failing-if-broken) test. */
  fixed?: boolean;
}

const KNOWN_DEFECTS: KnownDefect[] = [
  {
    name: 'Resource.id format is not checked ("bad id!")',
    fixed: true,
    file: PATIENT,
    mutate: (d) => (d.id = 'bad id!'),
    check: (r) => assert.equal(find(r, 'fhir-primitive-format', 'Patient.id').length, 1, show(r.issues)),
  },
  {
    name: 'ele-1: an element with only an id ({ id }) is accepted',
    fixed: true,
    file: PATIENT,
    mutate: (d) => (d.maritalStatus = { id: 'm1' }),
    check: (r) => assert.ok(r.issues.some((i) => isError(i) && i.expression === 'Patient.maritalStatus'), show(r.issues)),
  },
  {
    name: 'tddui-bundle-entry-type is skipped when the Bundle declares meta.profile (as the official ones do)',
    fixed: true,
    file: SSIAD,
    mutate: (d) => d.entry.push(newEntry(observation())),
    check: (r) => {
      assert.equal(find(r, 'tddui-bundle-entry-type', 'Bundle.entry[8].resource').length, 1, show(r.issues));
      assert.equal(r.valid, false);
    },
  },
  {
    name: 'an entry without resource in a POST transaction is accepted',
    fixed: true,
    file: SSIAD,
    mutate: (d) => delete d.entry[4].resource,
    check: (r) => assert.ok(r.issues.some((i) => isError(i) && i.expression.startsWith('Bundle.entry[4]')), show(r.issues)),
  },
  {
    name: 'an error in the Patient gives the untouched évènement a spurious idStay error (closest slice = séjour)',
    fixed: true,
    file: SSIAD,
    mutate: (d) => (res(d, 0).gender = 'foo'),
    check: (r) => assert.deepEqual(r.issues.filter((i) => isError(i) && i.expression.startsWith('Bundle.entry[3]')), []),
  },
  {
    name: 'an évènement without period.end is also checked against the séjour profile (spurious idStay error)',
    fixed: true,
    file: SSIAD,
    mutate: (d) => delete res(d, 3).period.end,
    check: (r) => assert.deepEqual(r.issues.filter((i) => i.rule === 'fhir-slice-cardinality-min' && i.expression.startsWith('Bundle.entry[3].resource')), []),
  },
  {
    name: 'évènement partOf itself: only an information at partOf, and a spurious idStay error instead',
    fixed: true,
    file: SSIAD,
    mutate: (d) => (res(d, 3).partOf.reference = 'Encounter/tddui-encounter-evenement-example'),
    check: (r) => {
      const atPartOf = find(r, 'fhir-reference-target-profile', 'Bundle.entry[3].resource.partOf.reference');
      assert.ok(atPartOf.some(isError), show(r.issues));
      assert.deepEqual(r.issues.filter((i) => i.rule === 'fhir-slice-cardinality-min' && i.expression.startsWith('Bundle.entry[3].resource')), []);
    },
  },
  {
    name: 'tddui-patient identifier:PI max 1 is not enforced (two local identifiers accepted silently)',
    fixed: true,
    file: PATIENT,
    mutate: (d) => d.identifier.push({ ...d.identifier[0], value: '3480787529/194704033' }),
    check: (r) => assert.equal(find(r, 'fhir-slice-cardinality-max', 'Patient.identifier').length, 1, show(r.issues)),
  },
  {
    name: 'tddui-patient-ins identifier:INS-NIR max 1 is not enforced',
    fixed: true,
    file: PATIENT_INS,
    mutate: (d) => d.identifier.push({ ...d.identifier[0], value: '147720425367430' }),
    check: (r) => assert.equal(find(r, 'fhir-slice-cardinality-max', 'Patient.identifier').length, 1, show(r.issues)),
  },
  {
    name: 'unknown sub-extension in the complex extension tddui-ressources-used is accepted silently',
    fixed: true,
    file: EVENEMENT,
    mutate: (d) => d.extension[0].extension.push({ url: 'TDDUIColour', valueString: 'bleu' }),
    check: (r) => assert.ok(r.issues.some((i) => isError(i) && i.expression === 'Encounter.extension[0].extension[2]'), show(r.issues)),
  },
  {
    name: 'misspelt sub-extension of tddui-qr-participant (TDDUIResponsable) is accepted silently',
    fixed: true,
    file: QR_AGGIR,
    mutate: (d) =>
      (d.extension = [
        {
          url: `${TDDUI_SD}tddui-qr-participant`,
          extension: [{ url: 'TDDUIResponsable', valueReference: { reference: 'Practitioner/tddui-practitioner-example' } }],
        },
      ]),
    check: (r) => assert.ok(r.issues.some((i) => isError(i) && i.expression === 'QuestionnaireResponse.extension[0].extension[0]'), show(r.issues)),
  },
  {
    name: 'a type the profile removes from a choice is fhir-unknown-element plus a spurious value[x] min error',
    fixed: true,
    file: TASK_TRANSPORT_USAGER,
    mutate: (d) => {
      const i = input(d, 'accompagnement');
      i.valueString = 'oui';
      delete i.valueBoolean;
    },
    check: (r) => {
      assert.equal(find(r, 'fhir-type-not-allowed', 'Task.input[4].valueString').length, 1, show(r.issues));
      assert.deepEqual(find(r, 'fhir-cardinality-min', 'Task.input[4]'), []);
    },
  },
  {
    name: 'an entry without resourceType yields "undefined" in other entries\' messages',
    fixed: true,
    file: SSIAD,
    mutate: (d) => delete res(d, 4).resourceType,
    check: (r) => assert.deepEqual(r.issues.filter((i) => /\bundefined\b/.test(i.message)), []),
  },
];

// ------------------------------------------------------------------------------------ tests

const validator = await TdduiValidator.create({ packages: [SHARED_FHIR], useCache: false });

/** Validates a mutated clone of an example; checks the validator neither crashed nor touched its input. */
function run(file: string, mutate: (doc: Doc) => void, now: Date = NOW): ValidationReport {
  const doc = structuredClone(original(file));
  mutate(doc);
  const before = JSON.stringify(doc);
  const report = validator.validate(doc, { now, ig: '2.2.0' });
  assert.equal(JSON.stringify(doc), before, 'the validator modified its input');
  const crashes = report.issues.filter((i) => CRASH_RULES.has(i.rule));
  assert.deepEqual(crashes, [], `the validator failed on this input:\n${show(crashes)}`);
  return report;
}

for (const m of MUTATIONS) {
  test(`[${m.family}] ${m.name} (${m.file})`, () => {
    const report = run(m.file, m.mutate, m.now);
    for (const e of m.expect) {
      const found = find(report, e.rule, e.expression);
      assert.ok(found.length > 0, `expected ${e.severity} ${e.rule} @ ${e.expression}; got:\n${show(report.issues)}`);
      const ok = found.filter((i) => i.severity === e.severity && (!e.message || e.message.test(i.message)));
      assert.ok(
        ok.length > 0,
        `expected ${e.severity} ${e.rule} @ ${e.expression}${e.message ? ` matching ${e.message}` : ''}; got:\n${show(found)}`,
      );
    }
    for (const a of m.absent ?? []) {
      const found = find(report, a.rule, a.expression);
      assert.deepEqual(found, [], `unexpected ${a.rule} @ ${a.expression}:\n${show(found)}`);
    }
    if (m.expect.some(isError)) assert.equal(report.valid, false, 'an error was expected, so the report must be invalid');
    if (m.valid !== undefined) assert.equal(report.valid, m.valid, show(report.issues.filter(isError)));
  });
}

for (const k of KNOWN_DEFECTS) {
  if (k.fixed) test(`[fixed defect] ${k.name} (${k.file})`, () => k.check(run(k.file, k.mutate)));
  else test.todo(`[known defect] ${k.name} (${k.file})`, () => k.check(run(k.file, k.mutate)));
}

test('the suite has at least 3 mutations per family and 90 in all', () => {
  const real = MUTATIONS.filter((m) => m.expect.length > 0);
  const counts = new Map<Family, number>();
  for (const m of real) counts.set(m.family, (counts.get(m.family) ?? 0) + 1);
  for (const f of FAMILIES) assert.ok((counts.get(f) ?? 0) >= 3, `family ${f} has ${counts.get(f) ?? 0} mutation(s)`);
  assert.ok(real.length >= 90, `${real.length} mutations`);
  const names = MUTATIONS.map((m) => `${m.family} ${m.name}`);
  assert.equal(new Set(names).size, names.length, 'mutation names must be unique');
});

test('every untouched official example gives zero errors', () => {
  const files = readdirSync(EXAMPLES_DIR).filter((f) => f.endsWith('.json') && !f.startsWith('.'));
  assert.ok(files.length >= 40, `only ${files.length} examples found in ${EXAMPLES_DIR}`);
  const failures: string[] = [];
  for (const f of files) {
    const report = validator.validate(structuredClone(original(f)), { now: NOW, ig: '2.2.0' });
    const errors = report.issues.filter(isError);
    if (errors.length > 0 || !report.valid) failures.push(`${f}:\n${show(errors)}`);
  }
  assert.deepEqual(failures, []);
});

test('mutations do not leak into the original examples', () => {
  assert.ok(originals.size >= 40);
  for (const [file, o] of originals) assert.equal(JSON.stringify(o.doc), o.text, `${file} was modified`);
});

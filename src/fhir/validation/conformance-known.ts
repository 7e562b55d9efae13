// The disagreements with the HL7 validator's test suite (conformance-suite.test.ts) that are
// accepted for now, each with its reason: `policy D-nn: …` (a documented policy difference,
// see docs/decisions.md) or `gap: …` (a check not done yet, or done wrongly). A case that
// disagrees and is not listed fails the test, and so does a listed case that now agrees (take
// it out and raise the ratchet).
export const KNOWN_DISAGREEMENTS: Record<string, string> = {
  "StructureDefinition-Slice23": "gap: not checked: The element at AuditEvent.agent.extension defines the slicing unordered/open [value=url] but then an",
  "bad-bundle-reference-type-4": "gap: not checked: Matching reference for reference Practitioner/5d9588d8-3cd6-4b32-8fb7-ad13694e069d has resourceType ",
  "bundle-document-versioned-references-bad": "gap: not checked: Multiple matches in bundle for reference Observation/ObservationExample",
  "choice-gender-coding-async-qr": "gap: not checked: Wrong Display Name 'Australia' for http://hl7.org/fhir/item-type#string. Valid display is 'String' (",
  "document-bad-bad-sections#profile": "gap: not checked: Composition.section:codeA.focus: minimum required = 1, but only found 0 (from http://hl7.org/fhir/te",
  "document-bad-no-sections#profile": "gap: not checked: Slice 'Composition.section:code-A': a matching slice is required, but not found (from http://hl7.org",
  "measure-report-ihe": "gap: not checked: Group should have a code that matches the group stratifier definition in the measure",
  "mr-m-cql-library": "gap: not checked: The function AgesUpToNine does not exist in the library http://open.epic.com/Library/COVID19Screenin",
  "obs-temp-bad": "gap: not checked: BodyTempCode: magic LOINC code 8310-5 required, but not found (from http://hl7.org/fhir/StructureDef",
  "patient-translated-codes": "gap: not checked: Wrong Display Name 'alt-display' for http://terminology.hl7.org/CodeSystem/v2-0131#C. Valid display ",
  "profile-patient-op3": "gap: not checked: The profile 'http://hl7.org/fhir/test/StructureDefinition/profile-repeated-type' is not marked as an",
  "signatures-example-2": "gap: not checked: The signature did not verify against the provided certificate",
  "string-with-coding-async-qr": "gap: not checked: The value 'Australia' is not in the list of allowed values (value set 'http://hl7.org/fhir/ValueSet/",
  "structureDefinition-11179-objectClass-R4": "gap: the Java harness loads hl7.fhir.uv.extensions 5.x, whose structuredefinition-fhir-type may be used on ElementDefinition.type; R4 core (loaded here) allows only ElementDefinition.type.code",
  "type-ref-unchecked#profile": "policy D-40: the Java harness runs this case with reference type checks off; its file is identical to type-ref-checked, which expects the error we report",
};

/** The figures reached (out of 369 runs): the test fails below them. */
export const CONFORMANCE_RATCHET = { verdict: 354, exact: 317 };
